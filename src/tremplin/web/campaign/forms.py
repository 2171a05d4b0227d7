"""Forms for coalitions and campaigns (they work without JavaScript)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation
from tremplin.web.campaign.kpi_import import MAX_FILE_BYTES, parse_number
from tremplin.web.campaign.models import (
    COUNT_METRICS,
    Action,
    Campaign,
    Coalition,
    CoalitionMember,
    Goal,
    InteractionKind,
    MemberStatus,
    Metric,
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class CoalitionForm(forms.ModelForm):
    class Meta:
        model = Coalition
        fields = ["name", "purpose", "lead_organisation"]
        widgets = {"purpose": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, lead_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead_organisation"].queryset = lead_choices
        self.fields["lead_organisation"].help_text = _("Ses responsables de programme pilotent la coalition.")


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["coalition", "name", "objective", "starts_on", "ends_on", "currency", "planned_budget", "previous"]
        widgets = {"objective": forms.Textarea(attrs={"rows": 3}), "starts_on": DateInput(), "ends_on": DateInput()}

    def __init__(self, *args, coalitions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coalition"].queryset = coalitions
        previous = Campaign.objects.select_related("coalition").order_by("-starts_on")
        if self.instance.pk:
            previous = previous.exclude(pk=self.instance.pk)
            self.fields["coalition"].disabled = True
        self.fields["previous"].queryset = previous
        self.fields["previous"].label_from_instance = lambda c: f"{c.name} ({c.coalition.name})"


class MemberAddForm(forms.ModelForm):
    on = forms.DateField(label=_("Date du premier contact"), widget=DateInput(), initial=timezone.localdate)
    summary = forms.CharField(label=_("Comment l'organisation a été approchée"), required=False, max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = CoalitionMember
        fields = ["organisation", "status", "contact_name", "contact_role", "contact_email", "commitments"]
        widgets = {"commitments": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, coalition, **kwargs):
        super().__init__(*args, **kwargs)
        taken = coalition.members.values_list("organisation_id", flat=True)
        self.fields["organisation"].queryset = Organisation.objects.exclude(pk__in=taken).order_by("name")
        self.fields["organisation"].label_from_instance = lambda o: f"{o.name} — {o.get_sector_display()}"


class MemberForm(forms.ModelForm):
    class Meta:
        model = CoalitionMember
        fields = ["contact_name", "contact_role", "contact_email", "commitments", "governance_role"]
        widgets = {"commitments": forms.Textarea(attrs={"rows": 3})}


class InteractionForm(forms.Form):
    on = forms.DateField(label=_("Date"), widget=DateInput(), initial=timezone.localdate)
    kind = forms.ChoiceField(label=_("Type"), choices=InteractionKind.choices)
    summary = forms.CharField(label=_("Compte rendu"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(label=_("Nouveau statut"), required=False,
                               choices=[("", _("inchangé"))] + MemberStatus.choices)


class GoalForm(forms.ModelForm):
    class Meta:
        model = Goal
        fields = ["metric", "target", "target_date", "label"]
        widgets = {"target_date": DateInput()}


class ActionForm(forms.ModelForm):
    class Meta:
        model = Action
        fields = ["name", "channel", "starts_on", "ends_on", "cost", "notes"]
        widgets = {"starts_on": DateInput(), "ends_on": DateInput(), "notes": forms.Textarea(attrs={"rows": 2})}


class KpiEntryForm(forms.Form):
    """One date's totals to date; empty fields are left as they are."""

    on = forms.DateField(label=_("Date"), widget=DateInput(), initial=timezone.localdate)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for metric, label in Metric.choices:
            self.fields[metric] = forms.CharField(
                label=label, required=False, max_length=40,
                help_text=_("Total depuis le début de la campagne.") if metric != Metric.BUDGET
                else _("Dépensé depuis le début de la campagne."))

    def clean(self):
        data = super().clean()
        values = {}
        for metric in Metric.values:
            text = (data.get(metric) or "").strip()
            if text:
                try:
                    values[metric] = parse_number(text, whole=metric in COUNT_METRICS)
                except ValueError as exc:
                    self.add_error(metric, str(exc))
        if not values and not self.errors:
            raise forms.ValidationError(_("Saisissez au moins une valeur."))
        data["values"] = values
        return data


class KpiImportForm(forms.Form):
    file = forms.FileField(label=_("Fichier CSV"), help_text=_("2 Mo au plus."))

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > MAX_FILE_BYTES:
            raise forms.ValidationError(_("Fichier trop volumineux (2 Mo au plus)."))
        return uploaded
