from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tremplin.web.evaluations.models import Dataset, DatasetFormat, estimator_choices


class DatasetForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    format = forms.ChoiceField(label=_("Format"), choices=DatasetFormat.choices, initial=DatasetFormat.OURS)
    upload = forms.FileField(label=_("Archive zip"), required=False,
                             help_text=_("Tables CSV ou Parquet (schéma Tremplin) ou tables OMOP CDM."))
    server_path = forms.CharField(label=_("ou dossier sur le serveur"), required=False, max_length=500,
                                  help_text=_("Sous le dossier autorisé (TREMPLIN_DATA_DIR/datasets)."))

    def clean(self):
        data = super().clean()
        if bool(data.get("upload")) == bool(data.get("server_path")):
            raise forms.ValidationError(_("Déposez une archive zip ou indiquez un dossier du serveur (l'un ou "
                                          "l'autre)."))
        return data


class RunForm(forms.Form):
    dataset = forms.ModelChoiceField(label=_("Jeu de données"), queryset=Dataset.objects.none())
    estimator = forms.ChoiceField(label=_("Estimateur"), choices=estimator_choices)  # the engine's registry
    period = forms.ChoiceField(label=_("Période du panel"), initial="quarter",
                               choices=[("month", _("mois")), ("quarter", _("trimestre")), ("year", _("année"))])
    seed = forms.IntegerField(label=_("Graine aléatoire"), initial=0, min_value=0)

    def __init__(self, *args, datasets=None, **kwargs):
        super().__init__(*args, **kwargs)
        if datasets is not None:
            self.fields["dataset"].queryset = datasets
