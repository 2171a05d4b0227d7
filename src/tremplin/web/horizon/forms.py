"""Forms for horizon scanning (they work without JavaScript; htmx only enhances)."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import User
from tremplin.web.horizon import selectors
from tremplin.web.horizon.models import Horizon, Likelihood, PanelMember, Signal, SignalDomain
from tremplin.web.problems.models import Problem

STEWARD_ROLES = ("admin", "programme_manager", "decision_maker", "evaluator", "reviewer")
SCORE_CHOICES = [(i, str(i)) for i in range(5)]


def _user_label(user: User) -> str:
    return f"{user} <{user.email}>"


class SignalForm(forms.ModelForm):
    class Meta:
        model = Signal
        fields = ["title", "summary", "domain", "horizon", "likelihood", "impact_workforce", "impact_pathways",
                  "impact_costs", "impact_skills", "impact_notes", "source_links", "problems", "calls", "is_public",
                  "steward", "status"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 4}), "impact_notes": forms.Textarea(attrs={"rows": 3}),
                   "source_links": forms.Textarea(attrs={"rows": 3}), "horizon": forms.RadioSelect,
                   "likelihood": forms.RadioSelect}

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self._visible_calls = selectors.visible_calls(user=user)
        self.fields["calls"].required = False
        self.fields["calls"].queryset = self._visible_calls
        self.fields["calls"].help_text = _("Les appels de solutions que ce signal a inspirés ou qu'il concerne. "
                                           "« Préparer un appel de solutions » y ajoute le brouillon créé.")
        self.fields["problems"].required = False
        self.fields["problems"].queryset = Problem.objects.exclude(status__in=["merged", "declined"]).order_by("title")
        self.fields["steward"].queryset = (User.objects.filter(is_active=True, memberships__role__in=STEWARD_ROLES)
                                           .distinct().order_by("display_name", "email"))
        self.fields["steward"].label_from_instance = _user_label
        if self.instance.pk is None:
            del self.fields["status"]
            self.fields["steward"].help_text = _("Vous, par défaut. Reçoit le rappel quand le signal n'a pas été "
                                                 "revu à temps.")


    def clean_calls(self):
        """The calls chosen, plus the linked calls this user cannot see (a draft call linked by a programme
        manager stays linked when a steward, who does not see drafts, saves the signal)."""
        chosen = list(self.cleaned_data["calls"])
        if self.instance.pk is None:
            return chosen
        hidden = self.instance.calls.exclude(pk__in=self._visible_calls.values("pk"))
        return chosen + list(hidden)


class SignalReviewForm(forms.Form):
    reviewed_on = forms.DateField(label=_("Revu le"), widget=forms.DateInput(attrs={"type": "date"}),
                                  initial=timezone.localdate)
    horizon = forms.ChoiceField(label=_("Horizon"), choices=Horizon.choices, widget=forms.RadioSelect)
    likelihood = forms.TypedChoiceField(label=_("Probabilité"), choices=Likelihood.choices, coerce=int,
                                        widget=forms.RadioSelect)
    note = forms.CharField(label=_("Ce qui a changé (ou pourquoi rien n'a changé)"), required=False,
                           max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class SignalScoreForm(forms.Form):
    likelihood = forms.TypedChoiceField(
        label=_("Probabilité à l'horizon annoncé"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect,
        help_text=_("0 : improbable ; 4 : quasi certaine."))
    impact = forms.TypedChoiceField(
        label=_("Ampleur de l'impact sur l'organisation des soins"), choices=SCORE_CHOICES, coerce=int,
        widget=forms.RadioSelect, help_text=_("Effectifs, parcours, coûts, transferts de compétences. 0 : aucun ; "
                                              "4 : transformateur."))
    relevance = forms.TypedChoiceField(
        label=_("Pertinence pour les problématiques du réseau"), choices=SCORE_CHOICES, coerce=int,
        widget=forms.RadioSelect, help_text=_("0 : sans rapport ; 4 : répond à une priorité du réseau."))
    comment = forms.CharField(label=_("Commentaire"), required=False, max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 3}))


class PanelMemberForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Personne"), queryset=User.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        members = PanelMember.objects.values_list("user_id", flat=True)
        self.fields["user"].queryset = (User.objects.filter(is_active=True, memberships__isnull=False)
                                        .exclude(Q(pk__in=members) | Q(memberships__role="innovator"))
                                        .distinct().order_by("display_name", "email"))
        self.fields["user"].label_from_instance = _user_label
        self.fields["user"].help_text = _("Toute personne membre d'une organisation du réseau, sauf les innovateurs "
                                          "(qui pourraient porter les solutions concernées).")


class SignalFilterForm(forms.Form):
    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    domain = forms.ChoiceField(label=_("Domaine"), required=False, choices=[("", _("Tous"))] + SignalDomain.choices)
    horizon = forms.ChoiceField(label=_("Horizon"), required=False, choices=[("", _("Tous"))] + Horizon.choices)
    likelihood = forms.TypedChoiceField(label=_("Probabilité au moins"), required=False, coerce=int,
                                        empty_value=None, choices=[("", _("Toutes"))] + Likelihood.choices)
    status = forms.ChoiceField(label=_("Statut"), required=False,
                               choices=[("", _("En veille")), ("archived", _("Archivés")), ("all", _("Tous"))])
    overdue = forms.BooleanField(label=_("À revoir seulement"), required=False)

    def filters(self) -> dict:
        """The valid filters: a value the form refuses (unknown choice, NUL byte, too long) is ignored, the
        others still apply (as the query-string helpers of `core.querystring` do)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        return {"query": (data.get("q") or "").strip(), "domain": data.get("domain") or "",
                "horizon": data.get("horizon") or "", "likelihood": data.get("likelihood"),
                "status": data.get("status") or "", "overdue": bool(data.get("overdue"))}


