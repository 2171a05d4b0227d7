from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tremplin.web.notifications.models import MAX_BODY, MAX_SUBJECT, Digest, Language


class MailTemplateForm(forms.Form):
    """The four texts of a template (validated by the service: placeholders), the hold flag, the kind's options."""

    subject_fr = forms.CharField(label=_("Objet (français)"), max_length=MAX_SUBJECT, required=False,
                                 widget=forms.TextInput(attrs={"size": 80}))
    body_fr = forms.CharField(label=_("Texte (français)"), max_length=MAX_BODY, required=False,
                              widget=forms.Textarea(attrs={"rows": 12, "cols": 80}))
    subject_en = forms.CharField(label=_("Objet (anglais)"), max_length=MAX_SUBJECT, required=False,
                                 widget=forms.TextInput(attrs={"size": 80}))
    body_en = forms.CharField(label=_("Texte (anglais)"), max_length=MAX_BODY, required=False,
                              widget=forms.Textarea(attrs={"rows": 12, "cols": 80}))
    hold = forms.BooleanField(label=_("Relire dans la boîte d'envoi avant l'envoi"), required=False,
                              help_text=_("Les courriels attendent qu'un responsable les envoie."))

    def __init__(self, *args, kind, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name, label in kind.options.items():
            self.fields[f"option_{name}"] = forms.CharField(label=label, max_length=200, required=False)
        for name in ("subject_fr", "body_fr", "subject_en", "body_en"):
            self.fields[name].strip = False

    def options(self) -> dict:
        return {name: self.cleaned_data.get(f"option_{name}", "") for name in self.kind.options}


class PreferenceForm(forms.Form):
    language = forms.ChoiceField(label=_("Langue de vos courriels"), choices=Language.choices)
    digest = forms.ChoiceField(label=_("Résumé des nouveautés par courriel"), choices=Digest.choices)


class OutboxForm(forms.Form):
    """What to do with the held mails chosen (`ids`, read from the request) or with every held mail the
    filters select (`everything`)."""

    ACTIONS = (("send", _("Envoyer")), ("cancel", _("Annuler")), ("rerender", _("Recomposer")))
    action = forms.ChoiceField(choices=ACTIONS)
    everything = forms.BooleanField(required=False)
