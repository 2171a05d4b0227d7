from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Territory
from tremplin.web.problems.models import (
    STRATEGIC_FIT_MAX,
    Answer,
    Consultation,
    PriorityWeights,
    Problem,
    ProblemStatus,
    Question,
    QuestionKind,
)
from tremplin.web.problems.services import allowed_transitions


class ProblemForm(forms.ModelForm):
    """Report or edit a problem. On creation, similar problems must be acknowledged (confirm_distinct)."""

    organisation = forms.ModelChoiceField(label=_("Au nom de"), queryset=Organisation.objects.none())
    confirm_distinct = forms.BooleanField(
        label=_("J'ai vérifié : ma problématique est différente de celles qui lui ressemblent"), required=False)

    class Meta:
        model = Problem
        fields = ["organisation", "title", "description", "domain", "territories", "affected_population",
                  "burden", "burden_cost_eur", "evidence_links"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 6}),
            "burden": forms.Textarea(attrs={"rows": 3}),
            "evidence_links": forms.Textarea(attrs={"rows": 3}),
            "territories": forms.SelectMultiple(attrs={"size": 8}),
        }

    def __init__(self, *args, user, similar=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.similar = similar or []
        self.fields["territories"].queryset = Territory.objects.order_by("code")
        if self.instance.pk:
            del self.fields["organisation"]
        else:
            organisations = Organisation.objects.filter(memberships__user=user).distinct().order_by("name")
            self.fields["organisation"].queryset = organisations
            if len(organisations) == 1:
                self.fields["organisation"].initial = organisations[0].pk
        if not self.similar:
            del self.fields["confirm_distinct"]
        htmx = {"hx-get": "", "hx-trigger": "keyup changed delay:600ms", "hx-target": "#similar-problems",
                "hx-include": "#id_title, #id_description", "hx-swap": "innerHTML"}
        for name in ("title", "description"):
            self.fields[name].widget.attrs.update(htmx)

    def set_similar_url(self, url: str) -> None:
        for name in ("title", "description"):
            self.fields[name].widget.attrs["hx-get"] = url

    def clean_evidence_links(self):
        value = self.cleaned_data.get("evidence_links", "")
        return "\n".join(line.strip() for line in value.splitlines() if line.strip())

    def clean(self):
        data = super().clean()
        if self.similar and not data.get("confirm_distinct"):
            self.add_error("confirm_distinct", _("Des problématiques semblables existent : vérifiez-les, puis "
                                                 "cochez cette case ou appuyez plutôt l'une d'elles."))
        return data


class EndorsementForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("Au nom de"), queryset=Organisation.objects.none())
    comment = forms.CharField(label=_("Pourquoi appuyez-vous cette problématique ?"),
                              widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, problem: Problem, user, **kwargs):
        super().__init__(*args, **kwargs)
        eligible = (Organisation.objects.filter(memberships__user=user).exclude(pk=problem.organisation_id)
                    .exclude(problem_endorsements__problem=problem).distinct().order_by("name"))
        self.fields["organisation"].queryset = eligible
        if len(eligible) == 1:
            self.fields["organisation"].initial = eligible[0].pk


class ProblemManageForm(forms.Form):
    status = forms.ChoiceField(label=_("Statut"))
    reason = forms.CharField(label=_("Motif"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Obligatoire pour écarter une problématique."))
    strategic_fit = forms.TypedChoiceField(
        label=_("Adéquation stratégique"), coerce=int,
        choices=[(i, str(i)) for i in range(STRATEGIC_FIT_MAX + 1)],
        help_text=_("0 = hors des priorités du programme, 4 = priorité majeure."))

    def __init__(self, *args, problem: Problem, **kwargs):
        super().__init__(*args, **kwargs)
        current = ProblemStatus(problem.status)
        self.fields["status"].choices = [(current.value, _("%(label)s (inchangé)") % {"label": current.label})] + [
            (s, ProblemStatus(s).label) for s in allowed_transitions(problem.status) if s != ProblemStatus.MERGED]
        self.fields["status"].initial = problem.status
        self.fields["strategic_fit"].initial = problem.strategic_fit
        self.fields["reason"].initial = problem.status_reason


class MergeForm(forms.Form):
    target = forms.ModelChoiceField(label=_("Fusionner dans"), queryset=Problem.objects.none(),
                                    help_text=_("La problématique qui reste ; celle-ci devient « fusionnée »."))
    reason = forms.CharField(label=_("Motif"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, problem: Problem, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = (Problem.objects.exclude(pk=problem.pk)
                                          .exclude(status__in=[ProblemStatus.MERGED, ProblemStatus.DECLINED])
                                          .order_by("title"))


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Votre commentaire"), max_length=3000, widget=forms.Textarea(attrs={"rows": 3}))


class FlagForm(forms.Form):
    reason = forms.CharField(label=_("Pourquoi le signaler ?"), max_length=300, required=False)


class ModerationForm(forms.Form):
    action = forms.ChoiceField(choices=(("hide", _("Masquer")), ("restore", _("Rétablir")), ("keep", _("Garder"))))
    reason = forms.CharField(label=_("Motif (affiché à la place du commentaire masqué)"), max_length=300,
                             required=False)


class WeightsForm(forms.ModelForm):
    class Meta:
        model = PriorityWeights
        fields = ["burden", "population", "endorsements", "strategic_fit"]

    def clean(self):
        data = super().clean()
        for name in self.Meta.fields:
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, _("Un poids est positif ou nul."))
        return data


class ConsultationForm(forms.ModelForm):
    class Meta:
        model = Consultation
        fields = ["title", "description", "problem", "starts_at", "ends_at"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
        help_texts = {"starts_at": _("Heure de Paris (fuseau du serveur)."),
                      "ends_at": _("Heure de Paris (fuseau du serveur).")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["problem"].queryset = Problem.objects.exclude(status=ProblemStatus.MERGED).order_by("title")

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("La clôture doit suivre l'ouverture."))
        return data


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["text", "kind", "choices", "required"]
        widgets = {"choices": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        data = super().clean()
        if data.get("text") and data.get("kind") == QuestionKind.CHOICE:
            choices = [c for c in (data.get("choices") or "").splitlines() if c.strip()]
            limit = Answer._meta.get_field("choice").max_length  # an answer stores the chosen line
            if len(choices) < 2:
                self.add_error("choices", _("Proposez au moins deux choix, un par ligne."))
            elif any(len(c.strip()) > limit for c in choices):
                self.add_error("choices", _("%(limit)s caractères au plus par choix.") % {"limit": limit})
        return data


QuestionFormSet = forms.formset_factory(QuestionForm, extra=5, max_num=30, validate_max=True)


class ResponseForm(forms.Form):
    """One field per question of the consultation (radio buttons for choices and notes)."""

    def __init__(self, *args, consultation: Consultation, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(consultation.questions.all())
        for question in self.questions:
            name = f"q{question.pk}"
            if question.kind == QuestionKind.CHOICE:
                field = forms.ChoiceField(choices=[(c, c) for c in question.choice_list], widget=forms.RadioSelect)
            elif question.kind == QuestionKind.SCALE:
                field = forms.ChoiceField(choices=[(str(i), str(i)) for i in range(1, 6)], widget=forms.RadioSelect,
                                          help_text=_("1 = le moins, 5 = le plus"))
            else:
                field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
            field.label = question.text
            field.required = question.required
            self.fields[name] = field

    def answers(self) -> dict[int, object]:
        return {q.pk: self.cleaned_data.get(f"q{q.pk}") for q in self.questions}
