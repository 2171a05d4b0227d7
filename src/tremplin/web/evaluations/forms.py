from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from tremplin.web.evaluations.models import Dataset, DatasetFormat, Estimator


class DatasetForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    format = forms.ChoiceField(label=_("Format"), choices=DatasetFormat.choices, initial=DatasetFormat.OURS)
    upload = forms.FileField(label=_("Archive zip"), required=False)
    server_path = forms.CharField(label=_("ou dossier sur le serveur"), required=False, max_length=500,
                                  help_text=_("Sous le dossier autorisé (TREMPLIN_DATA_DIR/datasets)."))
    refused_upload = ""  # the message of an upload refused while it streamed in (core.uploads)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["upload"].help_text = _(
            "Tables CSV ou Parquet (schéma Tremplin) ou tables OMOP CDM ; %(upload)s au plus, %(unzipped)s une fois "
            "décompressée. Au-delà, déposez les fichiers sur le serveur et indiquez leur dossier.") % {
            "upload": filesizeformat(settings.DATASET_UPLOAD_MAX_BYTES),
            "unzipped": filesizeformat(settings.DATASET_UNZIPPED_MAX_BYTES)}

    def clean_upload(self):
        if self.refused_upload:
            raise forms.ValidationError(self.refused_upload, code="too_large")
        return self.cleaned_data.get("upload")

    def clean(self):
        data = super().clean()
        if "upload" in self.errors:
            return data
        if bool(data.get("upload")) == bool(data.get("server_path")):
            raise forms.ValidationError(_("Déposez une archive zip ou indiquez un dossier du serveur (l'un ou "
                                          "l'autre)."))
        return data


class RunForm(forms.Form):
    dataset = forms.ModelChoiceField(label=_("Jeu de données"), queryset=Dataset.objects.none())
    estimator = forms.ChoiceField(label=_("Estimateur"), choices=Estimator.choices)
    period = forms.ChoiceField(label=_("Période du panel"), initial="quarter",
                               choices=[("month", _("mois")), ("quarter", _("trimestre")), ("year", _("année"))])
    seed = forms.IntegerField(label=_("Graine aléatoire"), initial=0, min_value=0)

    def __init__(self, *args, datasets=None, **kwargs):
        super().__init__(*args, **kwargs)
        if datasets is not None:
            self.fields["dataset"].queryset = datasets
