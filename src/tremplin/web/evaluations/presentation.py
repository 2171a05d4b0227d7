"""Plain-language presentation of results and publications (French UI text, numbers from the result).

What depends on the estimator (how its inference reads, whether it tests pre-trends) comes from the engine's
registry, so that a registered estimator is presented without a line here.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tremplin.engine import EngineInputError, Estimator, get_estimator

OUTCOME_LABELS = {
    "avoidable_hospitalisations": gettext_lazy("hospitalisations évitables"),
    "hospitalisation_rate": gettext_lazy("hospitalisations"),
    "emergency_visit_rate": gettext_lazy("passages aux urgences"),
    "readmissions_30d": gettext_lazy("réhospitalisations à 30 jours"),
    "cost_per_capita": gettext_lazy("dépenses par habitant"),
    "outpatient_visits_per_capita": gettext_lazy("consultations de ville par habitant"),
    "redundant_acts": gettext_lazy("actes redondants"),
    "person_months": gettext_lazy("mois-personnes"),
}


def outcome_label(name: str | None) -> str:
    return str(OUTCOME_LABELS.get(name or "", name or ""))


def percent(x: float | None) -> str:
    """-0.112 -> "−11 %" (typographic minus; whole percents, one decimal under 1 %)."""
    if x is None:
        return "—"
    value = 100 * x
    text = f"{abs(value):.1f}" if abs(value) < 0.95 else f"{abs(value):.0f}"
    text = text.replace(".", ",")
    sign = "−" if value < 0 and text.strip("0,") else ("+" if value > 0 and text.strip("0,") else "")
    return f"{sign}{text} %"


def p_text(p: float | None) -> str:
    return "—" if p is None else (f"{p:.3f}".replace(".", ",") if p >= 0.001 else "< 0,001")


def headline_sentence(headline: dict | None, outcome: str | None) -> str:
    if not headline or headline.get("relative") is None:
        return _("Effet non estimable (moyenne de référence nulle ou absente).")
    if headline.get("relative_ci_low") is None:  # synthetic control: placebo inference, no interval
        return _("%(effect)s %(outcome)s, p = %(p)s (placebos)") % {
            "effect": percent(headline["relative"]), "outcome": outcome_label(outcome),
            "p": p_text(headline.get("p_value"))}
    return _("%(effect)s %(outcome)s, IC 95 %% %(low)s à %(high)s") % {
        "effect": percent(headline["relative"]), "outcome": outcome_label(outcome),
        "low": percent(headline["relative_ci_low"]), "high": percent(headline["relative_ci_high"])}


def verdict(headline: dict | None) -> str:
    if headline and headline.get("ci_low") is None and headline.get("p_value") is not None:
        p = headline["p_value"]
        if p < 0.05:
            return (_("Un écart de cette taille est rare parmi les placebos (p = %(p)s) : une baisse est mise en "
                      "évidence.") if (headline.get("att") or 0) < 0 else
                    _("Un écart de cette taille est rare parmi les placebos (p = %(p)s) : une hausse est mise en "
                      "évidence.")) % {"p": p_text(p)}
        return _("Un écart de cette taille est fréquent parmi les placebos (p = %(p)s) : les données ne "
                 "permettent pas de conclure à un effet.") % {"p": p_text(p)}
    if not headline or headline.get("ci_low") is None or headline.get("ci_high") is None:
        return ""
    if headline["ci_high"] < 0:
        return _("L'intervalle de confiance est entièrement négatif : une baisse est mise en évidence.")
    if headline["ci_low"] > 0:
        return _("L'intervalle de confiance est entièrement positif : une hausse est mise en évidence.")
    return _("L'intervalle de confiance contient zéro : les données ne permettent pas de conclure à un effet.")


def _registered(name: str | None) -> Estimator | None:
    try:
        return get_estimator(name or "")
    except EngineInputError:  # a result of an estimator no longer registered
        return None


def placebo_inference(estimator: str | None) -> bool:
    """Whether the estimator's p-value comes from placebos (no confidence interval)."""
    found = _registered(estimator)
    return found is not None and found.inference == "placebo"


def pretrend_test(estimator: str | None) -> bool:
    """Whether the estimator's results carry a joint pre-trend test."""
    found = _registered(estimator)
    return found is not None and found.pretrend_test


def warnings_for(diagnostics: dict | None, estimator: str | None = None) -> list[str]:
    d = diagnostics or {}
    out = []
    if d.get("few_clusters"):
        counts = {"treated": d.get("treated_units"), "comparison": d.get("comparison_units")}
        out.append((_("Peu de territoires (%(treated)s expérimentateurs, %(comparison)s de comparaison) : la valeur "
                      "p par placebos ne peut pas descendre bien bas et chaque contrôle synthétique repose sur peu "
                      "de territoires donneurs.") if placebo_inference(estimator) else
                    _("Peu de territoires (%(treated)s expérimentateurs, %(comparison)s de comparaison) : "
                      "les intervalles de confiance reposent sur peu de grappes et peuvent être trop optimistes."))
                   % counts)
    if d.get("pretrend_rejected"):
        out.append(_("Les tendances avant l'intervention diffèrent entre territoires expérimentateurs et de "
                     "comparaison (test joint ou bande uniforme à 95 %) : l'effet estimé peut refléter des "
                     "évolutions antérieures."))
    return out


def _figure_texts(kind: str, outcome: str) -> dict | None:
    """Title and axis titles of an engine figure (``layout.meta.figure``) in the active language."""
    values = {"outcome": outcome}
    texts = {
        "event_study": (_("Étude d'événement : %(outcome)s"), _("Périodes depuis le début de l'intervention"),
                        _("Effet sur %(outcome)s")),
        "bacon": (_("Décomposition de Goodman-Bacon de l'estimation TWFE"), _("Poids"), _("Estimation DiD 2×2")),
        "synth_average_gaps": (_("Écart moyen sur %(outcome)s : territoires expérimentateurs moins leur contrôle "
                                 "synthétique (placebos en gris)"), _("Périodes depuis le début de l'intervention"),
                               _("Écart")),
        "synth_gaps": (_("Écart sur %(outcome)s : territoire expérimentateur moins son contrôle synthétique "
                         "(placebos en gris)"), _("Période"), _("Écart")),
        "its": (_("Série temporelle interrompue : %(outcome)s"), _("Période"), "%(outcome)s"),
        "its_by_cohort": (_("Séries temporelles interrompues, par date de début : %(outcome)s"), _("Période"),
                          "%(outcome)s"),
    }.get(kind)
    return None if texts is None else dict(zip(("title", "x", "y"), (t % values for t in texts), strict=True))


def _trace_name(meta: dict) -> str | None:
    """A trace's legend name (``trace.meta.role`` and its parameters) in the active language."""
    role, level, start = meta.get("role"), meta.get("level"), meta.get("start")
    names = {
        "uniform_band": _("Bande uniforme à %(level)s %%"),
        "att": _("Effet (intervalle ponctuel à %(level)s %%)"),
        "treated vs never treated": _("traités contre jamais traités"),
        "earlier vs later treated": _("traités plus tôt contre traités plus tard (pas encore traités)"),
        "later vs earlier treated": _("traités plus tard contre traités plus tôt (déjà traités)"),
        "average_gap": _("Écart moyen"),
        "fitted": _("ajusté"),
        "observed": _("observé, début %(start)s") if start else _("observé"),
        "counterfactual": _("contrefactuel, début %(start)s") if start else _("contrefactuel"),
    }
    name = names.get(role)
    return None if name is None else name % {"level": level, "start": start}


def localise_figure(figure: dict | None, outcome: str) -> dict | None:
    """The engine's figure (English texts) relabelled in the active language for display.

    Engine figures name what they show in ``layout.meta`` and each trace's ``meta``; figures stored before
    those names existed are returned unchanged.
    """
    meta = ((figure or {}).get("layout") or {}).get("meta")
    texts = _figure_texts(meta.get("figure"), outcome) if isinstance(meta, dict) else None
    if texts is None:
        return figure
    layout = dict(figure["layout"])
    layout["title"] = {**(layout.get("title") or {}), "text": texts["title"]}
    for axis, text in (("xaxis", texts["x"]), ("yaxis", texts["y"])):
        layout[axis] = {**(layout.get(axis) or {}), "title": {**((layout.get(axis) or {}).get("title") or {}),
                                                               "text": text}}
    data = []
    for trace in figure.get("data") or []:
        name = _trace_name(trace["meta"]) if isinstance(trace.get("meta"), dict) else None
        data.append({**trace, "name": name} if name is not None else trace)
    return {**figure, "layout": layout, "data": data}


def result_context(result: dict) -> dict:
    headline = result.get("headline") or {}
    figures = result.get("figures") or {}
    return {
        "result": result,
        "headline": headline,
        "headline_text": headline_sentence(headline, result.get("outcome")),
        "verdict": verdict(headline),
        "outcome_label": outcome_label(result.get("outcome")),
        "diagnostics": result.get("diagnostics") or {},
        "warnings": warnings_for(result.get("diagnostics"), result.get("estimator")),
        "effect_figure": localise_figure(figures.get("effect"), outcome_label(result.get("outcome"))),
        "effect_kind": figures.get("effect_kind", "event_study"),
        "pretrend_test": pretrend_test(result.get("estimator")),
        "trends_figure": figures.get("trends"),
        "event_study": result.get("event_study") or [],
        "robustness": [robustness_row(row) for row in result.get("robustness") or []],
    }


ROBUSTNESS_LABELS = {
    "cs_never": _("Callaway–Sant'Anna, témoins jamais traités"),
    "cs_not_yet": _("Callaway–Sant'Anna, témoins pas encore traités"),
    "cs_anticipation": _("Callaway–Sant'Anna, anticipation d'une période"),
    "twfe": _("Effets fixes à deux dimensions (TWFE), erreurs groupées par territoire"),
}


def robustness_row(row: dict) -> dict:
    """A robustness row ready for display: label, relative effect and its interval, or the reason it is absent."""
    return {
        "label": str(ROBUSTNESS_LABELS.get(row.get("key"), row.get("key"))),
        "effect": percent(row.get("relative")),
        "ci": f"{percent(row.get('relative_ci_low'))} ; {percent(row.get('relative_ci_high'))}",
        "att": row.get("att"),
        "p_value": row.get("p_value"),
        "error": row.get("error"),
    }


def publication_context(publication: dict | None) -> dict:
    pub = publication or {}
    headline = pub.get("headline") or {}
    trends = pub.get("trends") or []
    figure = None
    if trends:
        from tremplin.web.evaluations.analysis import trends_figure

        labels = {"treated": _("Territoires expérimentateurs"), "comparison": _("Territoires de comparaison"),
                  "period": _("Période"), "outcome": outcome_label(pub.get("outcome"))}
        figure = json.loads(trends_figure(trends, outcome_label(pub.get("outcome")), labels).to_json())
    return {
        "publication": pub,
        "headline": headline,
        "headline_text": headline_sentence(headline, pub.get("outcome")) if headline else "",
        "verdict": verdict(headline),
        "outcome_label": outcome_label(pub.get("outcome")),
        "diagnostics": pub.get("diagnostics") or {},
        "warnings": warnings_for(pub.get("diagnostics"), pub.get("estimator")),
        "trends": trends,
        "trends_figure": figure,
        "event_study": pub.get("event_study") or [],
    }
