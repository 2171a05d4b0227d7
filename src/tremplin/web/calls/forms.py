"""Forms for calls (they work without JavaScript; htmx only enhances)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Sector, Territory
from tremplin.web.calls.models import Call, EvidenceLevel, Outcome, Proposal
from tremplin.web.core.validation import MAX_ID


class DateTimeLocal(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class CallForm(forms.ModelForm):
    eligible_sectors = forms.MultipleChoiceField(
        label=_("Secteurs éligibles"), choices=Sector.choices, widget=forms.CheckboxSelectMultiple,
        initial=list(Sector.values), help_text=_("Tous les secteurs par défaut : aucun n'est privilégié."))

    class Meta:
        model = Call
        fields = ["title", "text", "problems", "eligible_sectors", "eligible_territories", "budget_envelope",
                  "max_amount_per_proposal", "opens_at", "review_starts_at", "deliberation_starts_at", "results_at",
                  "reviewers_per_proposal", "blind_review", "visibility_during_review", "visibility_after_review"]
        widgets = {f: DateTimeLocal() for f in ("opens_at", "review_starts_at", "deliberation_starts_at",
                                                 "results_at")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in ("opens_at", "review_starts_at", "deliberation_starts_at", "results_at"):
            self.fields[f].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
            self.fields[f].help_text = _("Heure de %(tz)s.") % {"tz": "Europe/Paris"}
        self.fields["problems"].required = False
        # Merged or declined problems cannot enter a call.
        self.fields["problems"].queryset = self.fields["problems"].queryset.exclude(
            status__in=["merged", "declined"]).order_by("title")
        self.fields["eligible_territories"].queryset = Territory.objects.order_by("code")


class CriterionForm(forms.Form):
    name = forms.CharField(label=_("Critère"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    weight = forms.DecimalField(label=_("Poids"), min_value=0, max_digits=6, decimal_places=2, initial=1)
    rubric = forms.CharField(label=_("Grille 0–4 (une ligne par niveau)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 5}))

    def clean_rubric(self):
        lines = [line.strip() for line in self.cleaned_data["rubric"].splitlines() if line.strip()]
        if lines and len(lines) != 5:
            raise forms.ValidationError(_("Cinq lignes attendues (niveaux 0 à 4), ou aucune."))
        return lines


CriterionFormSet = forms.formset_factory(CriterionForm, extra=1, can_delete=True)


class ProposalForm(forms.ModelForm):
    class Meta:
        model = Proposal
        fields = ["organisation", "title", "summary", "description", "partners", "territories", "evidence_level"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, call: Call, **kwargs):
        super().__init__(*args, **kwargs)
        self.call = call
        self.fields["organisation"].queryset = Organisation.objects.filter(
            memberships__user=user, memberships__role="innovator").distinct().order_by("name")
        self.fields["partners"].queryset = Organisation.objects.order_by("name")
        self.fields["partners"].required = False
        self.fields["partners"].help_text = _("Chaque organisation est présentée avec son secteur.")
        self.fields["partners"].label_from_instance = lambda o: f"{o.name} — {o.get_sector_display()}"
        self.fields["organisation"].label_from_instance = lambda o: f"{o.name} — {o.get_sector_display()}"
        self.fields["territories"].queryset = Territory.objects.order_by("code")
        self.fields["territories"].required = False
        self.fields["evidence_level"].choices = EvidenceLevel.choices


class BudgetLineForm(forms.Form):
    label = forms.CharField(label=_("Poste"), max_length=200, required=False)
    amount = forms.DecimalField(label=_("Montant (€)"), min_value=0, max_digits=14, decimal_places=2, required=False)

    def clean(self):
        data = super().clean()
        if data.get("label") and data.get("amount") is None:
            self.add_error("amount", _("Montant requis."))
        if data.get("amount") is not None and not data.get("label"):
            self.add_error("label", _("Intitulé requis."))
        return data


BudgetLineFormSet = forms.formset_factory(BudgetLineForm, extra=2)


def budget_lines_from(formset) -> list[dict]:
    return [{"label": f.cleaned_data["label"], "amount": f.cleaned_data["amount"]}
            for f in formset.forms if f.cleaned_data.get("label") and f.cleaned_data.get("amount") is not None]


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("Pièce jointe (PDF, 10 Mo au plus)"),
                           help_text=_("En évaluation à l'aveugle, les évaluateurs reçoivent une copie limitée au "
                                       "contenu des pages : sans métadonnées, signets, commentaires, champs de "
                                       "formulaire ni fichiers joints au PDF. C'est à vous de ne pas vous nommer "
                                       "dans le texte et les images."),
                           widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}))


class ConflictForm(forms.Form):
    proposal = forms.ModelChoiceField(label=_("Proposition"), queryset=Proposal.objects.none(), required=False)
    organisation = forms.ModelChoiceField(label=_("Organisation"), queryset=Organisation.objects.order_by("name"),
                                          required=False)
    reason = forms.CharField(label=_("Motif"), max_length=300, required=False)

    def __init__(self, *args, call: Call, reviewer, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the proposals assigned to the reviewer: no title of any other proposal reaches them.
        self.fields["proposal"].queryset = Proposal.objects.filter(
            call=call, status="submitted", assignments__reviewer=reviewer).order_by("pk")

    def clean(self):
        data = super().clean()
        if bool(data.get("proposal")) == bool(data.get("organisation")):
            raise forms.ValidationError(_("Indiquez soit une proposition, soit une organisation."))
        return data


class ConflictDecisionForm(forms.Form):
    conflict = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    action = forms.ChoiceField(choices=[("accept", _("Accepter")), ("dismiss", _("Classer sans suite"))])
    note = forms.CharField(label=_("Note (facultative)"), max_length=300, required=False)


SCORE_CHOICES = [("", "—")] + [(str(i), str(i)) for i in range(5)]


class ReviewForm(forms.Form):
    comment = forms.CharField(label=_("Commentaire général"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, criteria, review=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = list(criteria)
        existing = {s.criterion_id: s for s in review.scores.all()} if review is not None else {}
        if review is not None and not self.is_bound:
            self.initial["comment"] = review.comment
        for c in self.criteria:
            self.fields[f"score_{c.pk}"] = forms.TypedChoiceField(
                label=c.name, choices=SCORE_CHOICES, coerce=int, empty_value=None, required=False,
                help_text=" · ".join(c.rubric))
            self.fields[f"comment_{c.pk}"] = forms.CharField(
                label=_("Commentaire — %(criterion)s") % {"criterion": c.name}, required=False,
                widget=forms.Textarea(attrs={"rows": 2}))
            if c.pk in existing and not self.is_bound:
                self.initial[f"score_{c.pk}"] = str(existing[c.pk].score)
                self.initial[f"comment_{c.pk}"] = existing[c.pk].comment

    def scores(self) -> dict[int, tuple[int | None, str]]:
        return {c.pk: (self.cleaned_data.get(f"score_{c.pk}"), self.cleaned_data.get(f"comment_{c.pk}", ""))
                for c in self.criteria}

    def rows(self):
        return [(c, self[f"score_{c.pk}"], self[f"comment_{c.pk}"]) for c in self.criteria]


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note privée aux évaluateurs de cette proposition"), max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 3}))


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Décision"), choices=Outcome.choices)
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea(attrs={"rows": 2}))


class AssignmentCsvForm(forms.Form):
    file = forms.FileField(label=_("Fichier CSV (proposal_id, reviewer_email)"))


class ManualAssignmentForm(forms.Form):
    proposal = forms.IntegerField(label=_("Proposition (numéro)"), min_value=1, max_value=MAX_ID)
    reviewer = forms.EmailField(label=_("Adresse e-mail de l'évaluateur"))


class BulkDecisionForm(forms.Form):
    """Decide many proposals of the list shown at once (issue 18, item 4)."""

    MODES = (("selection", _("les propositions cochées")),
             ("threshold", _("les propositions dont la moyenne atteint le seuil")),
             ("suggestion", _("la suggestion sous contrainte budgétaire")))
    mode = forms.ChoiceField(label=_("Décider pour"), choices=MODES, initial="selection")
    threshold = forms.FloatField(label=_("Seuil de note moyenne (0 à 4)"), min_value=0, max_value=4, required=False)
    outcome = forms.ChoiceField(label=_("Décision"), choices=Outcome.choices)
    reason = forms.CharField(label=_("Motif et retour aux candidats"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    others_outcome = forms.ChoiceField(
        label=_("Pour les autres propositions de la liste"), required=False,
        choices=[("", _("ne rien décider")), *Outcome.choices])
    others_reason = forms.CharField(label=_("Motif pour les autres"), max_length=5000, required=False,
                                    widget=forms.Textarea(attrs={"rows": 2}))
    overwrite = forms.BooleanField(label=_("Remplacer les décisions déjà enregistrées"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("mode") == "threshold" and data.get("threshold") is None:
            self.add_error("threshold", _("Indiquez le seuil."))
        if data.get("others_outcome") and not (data.get("others_reason") or "").strip():
            self.add_error("others_reason", _("Le motif est obligatoire."))
        return data


class BulkAssignmentForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=(("assign", _("Affecter")), ("unassign", _("Retirer"))))
    reviewer = forms.EmailField(label=_("Adresse e-mail de l'évaluateur"))


class ExportSelectionForm(forms.Form):
    """Which export of a selection: `<what>.<format>` (the button pressed)."""

    export = forms.ChoiceField(choices=[(f"{what}.{fmt}", f"{what}.{fmt}") for what in ("proposals", "reviews",
                                                                                          "decisions")
                                        for fmt in ("csv", "xlsx")], required=False)

    def what_and_format(self) -> tuple[str, str]:
        what, fmt = (self.cleaned_data["export"] or "proposals.csv").split(".")
        return what, fmt
