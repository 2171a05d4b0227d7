"""Forms of the portfolio (they work without JavaScript)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Sector, Territory
from tremplin.web.portfolio import planning
from tremplin.web.portfolio.models import (
    MAX_OFFSET_DAYS,
    MAX_OFFSET_MONTHS,
    BudgetLine,
    Deadline,
    Design,
    Experiment,
    GateCriterion,
    GateDecision,
    LegalFramework,
    Stage,
    TestSite,
)
from tremplin.web.problems.models import CareDomain


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["title", "summary", "lead_organisation", "partners", "care_domain", "stage", "territories",
                  "start_date", "legal_framework", "authorisation_end"]
        widgets = {"start_date": DateInput(), "authorisation_end": DateInput(),
                   "partners": forms.SelectMultiple(attrs={"size": 8}),
                   "territories": forms.SelectMultiple(attrs={"size": 8})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["stage"].disabled = True
            self.fields["stage"].help_text = _("L'étape change par une revue de passage.")


class FilterForm(forms.Form):
    stage = forms.TypedChoiceField(label=_("Étape"), required=False, coerce=int, empty_value=None,
                                   choices=[("", _("Toutes"))] + list(Stage.choices))
    territory = forms.ModelChoiceField(label=_("Territoire"), required=False, queryset=Territory.objects.all(),
                                       empty_label=_("Tous"))
    sector = forms.ChoiceField(label=_("Secteur"), required=False, choices=[("", _("Tous"))] + list(Sector.choices))
    care_domain = forms.ChoiceField(label=_("Domaine"), required=False,
                                    choices=[("", _("Tous"))] + list(CareDomain.choices))
    legal_framework = forms.ChoiceField(label=_("Cadre juridique"), required=False,
                                        choices=[("", _("Tous"))] + list(LegalFramework.choices))


class GateReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("Décision"), choices=GateDecision.choices, widget=forms.RadioSelect)
    rationale = forms.CharField(label=_("Motifs"), widget=forms.Textarea(attrs={"rows": 4}))
    deciders = forms.CharField(label=_("Décideurs"), max_length=500,
                               help_text=_("Noms et fonctions des membres du comité."))
    decided_on = forms.DateField(label=_("Date de la décision"), widget=DateInput())
    criteria_met = forms.MultipleChoiceField(label=_("Critères remplis"), required=False,
                                             widget=forms.CheckboxSelectMultiple)
    new_authorisation_end = forms.DateField(label=_("Nouvelle fin d'autorisation (prolongation)"), required=False,
                                            widget=DateInput())

    def __init__(self, *args, criteria: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["criteria_met"].choices = [(c, c) for c in criteria]


class PlanForm(forms.Form):
    primary_outcome = forms.ChoiceField(label=_("Critère de jugement principal"),
                                        choices=[(o, o) for o in planning.OUTCOME_CHOICES],
                                        help_text=_("Catalogue des indicateurs du moteur d'évaluation."))
    design = forms.ChoiceField(label=_("Schéma d'évaluation"), choices=Design.choices)
    treated_territories = forms.ModelMultipleChoiceField(label=_("Territoires expérimentateurs"),
                                                         queryset=Territory.objects.all())
    comparison_territories = forms.ModelMultipleChoiceField(label=_("Territoires de comparaison"),
                                                            queryset=Territory.objects.all())
    expected_effect = forms.FloatField(label=_("Effet attendu (relatif)"), min_value=-0.99, max_value=10,
                                       help_text=_("Par exemple -0.10 pour une baisse de 10 %."))
    baseline_mean = forms.FloatField(label=_("Moyenne mensuelle de référence"))
    baseline_sd = forms.FloatField(label=_("Écart-type mensuel de référence"), min_value=0)
    autocorrelation = forms.FloatField(label=_("Autocorrélation mensuelle"), min_value=-0.99, max_value=0.99,
                                       initial=0.0)
    pre_months = forms.IntegerField(label=_("Mois d'historique avant l'intervention"), min_value=1, max_value=120,
                                    initial=12)
    expand_criteria = forms.CharField(label=_("Critères pour généraliser"), widget=forms.Textarea(attrs={"rows": 3}))
    stop_criteria = forms.CharField(label=_("Critères pour arrêter"), widget=forms.Textarea(attrs={"rows": 3}))
    reason = forms.CharField(label=_("Motif de l'avenant"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Obligatoire une fois le plan verrouillé."))


class CriteriaForm(forms.Form):
    """One textarea per stage, one criterion per line."""

    def __init__(self, *args, initial_texts: dict[int, list[str]], **kwargs):
        super().__init__(*args, **kwargs)
        for stage, label in Stage.choices:
            self.fields[f"stage_{stage}"] = forms.CharField(
                label=label, required=False, widget=forms.Textarea(attrs={"rows": 4}),
                initial="\n".join(initial_texts.get(stage, [])), help_text=_("Un critère par ligne."))

    def clean(self):
        data = super().clean()
        limit = GateCriterion._meta.get_field("text").max_length
        for name, value in list(data.items()):
            for number, line in enumerate((value or "").splitlines(), start=1):
                if len(line.strip()) > limit:
                    self.add_error(name, _("Ligne %(n)s : %(limit)s caractères au plus par critère.")
                                   % {"n": number, "limit": limit})
                    break
        return data


class MilestoneForm(forms.Form):
    name = forms.CharField(label=_("Jalon"), max_length=200)
    due_date = forms.DateField(label=_("Échéance"), widget=DateInput())


class KpiForm(forms.Form):
    name = forms.CharField(label=_("Indicateur"), max_length=200)
    unit = forms.CharField(label=_("Unité"), max_length=50, required=False)
    target = forms.DecimalField(label=_("Cible"), required=False, max_digits=14, decimal_places=2)


class KpiValueForm(forms.Form):
    kpi = forms.ChoiceField(label=_("Indicateur"))
    date = forms.DateField(label=_("Date"), widget=DateInput())
    value = forms.DecimalField(label=_("Valeur"), max_digits=14, decimal_places=2)

    def __init__(self, *args, kpis, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi"].choices = [(k.pk, k.name) for k in kpis]


class BudgetLineForm(forms.ModelForm):
    class Meta:
        model = BudgetLine
        fields = ["label", "funder", "funding_type", "committed", "spent"]


class SiteForm(forms.ModelForm):
    class Meta:
        model = TestSite
        fields = ["name", "territory"]


class DeadlineForm(forms.Form):
    name = forms.CharField(label=_("Échéance"), max_length=200)
    fixed_date = forms.DateField(label=_("Date fixe"), required=False, widget=DateInput())
    relative_to = forms.ModelChoiceField(label=_("Ou relative à"), required=False, queryset=Deadline.objects.none())
    offset_months = forms.IntegerField(label=_("Décalage (mois)"), initial=0, min_value=-MAX_OFFSET_MONTHS,
                                       max_value=MAX_OFFSET_MONTHS)
    offset_days = forms.IntegerField(label=_("Décalage (jours)"), initial=0, min_value=-MAX_OFFSET_DAYS,
                                     max_value=MAX_OFFSET_DAYS)

    def __init__(self, *args, experiment: Experiment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["relative_to"].queryset = experiment.deadlines.all()

    def clean(self):
        data = super().clean()
        if bool(data.get("fixed_date")) == bool(data.get("relative_to")):
            raise forms.ValidationError(_("Donnez soit une date fixe, soit une échéance de référence."))
        return data


class CsvForm(forms.Form):
    file = forms.FileField(label=_("Fichier CSV"), help_text=_(
        "Colonnes : experiment_id, type (milestone ou kpi), name, due_date, done_on, date, value."))
