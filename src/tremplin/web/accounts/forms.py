from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import ApiTokenScope, Membership, Organisation, Role


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "sector", "kind", "territory", "website"]


class TerritoryImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier CSV"),
        help_text=_("Colonnes : code, name, level, parent_code, population (UTF-8, séparateur , ou ;)."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("Fichier trop volumineux (5 Mo au plus)."))
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(_("Un fichier .csv est attendu."))
        return upload


class MembershipForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail de la personne"))
    role = forms.ChoiceField(label=_("Rôle"), choices=Role.choices)
    is_organisation_admin = forms.BooleanField(label=_("Peut gérer l'organisation"), required=False)

    def __init__(self, *args, organisation: Organisation, grantable: frozenset[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        # Only the roles the user may grant are offered (accounts.rules.grantable_roles); the service checks again.
        self.fields["role"].choices = [c for c in Role.choices if c[0] in grantable]
        if Role.PROGRAMME_MANAGER not in grantable:
            self.fields["role"].help_text = _("Les autres rôles valent sur toute la plateforme : un administrateur de "
                                              "la plateforme les attribue.")
        self.fields["role"].error_messages["invalid_choice"] = _(
            "Vous ne pouvez pas attribuer ce rôle : les rôles qui valent sur toute la plateforme (responsable de "
            "programme, évaluateur, jury, décideur, administrateur) sont attribués par un administrateur de la "
            "plateforme.")

    def clean(self):
        data = super().clean()
        email = data.get("email")
        if email:
            user = get_user_model().objects.filter(email__iexact=email).first()
            if user is None:
                self.add_error("email", _("Aucun compte avec cette adresse : la personne doit d'abord s'inscrire."))
            else:
                data["user"] = user
                if Membership.objects.filter(user=user, organisation=self.organisation, role=data.get("role")).exists():
                    self.add_error("role", _("Cette personne a déjà ce rôle dans l'organisation."))
        return data


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=100,
                           help_text=_("Pour le reconnaître : l'outil ou le script qui l'utilise."))
    scope = forms.ChoiceField(label=_("Portée"), widget=forms.RadioSelect, initial=ApiTokenScope.READ,
                              choices=ApiTokenScope.choices)
    expires_on = forms.DateField(label=_("Expire le"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        import datetime as dt

        from django.utils import timezone

        from tremplin.web.accounts.services import API_TOKEN_DEFAULT_DAYS, API_TOKEN_MAX_DAYS

        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["expires_on"].initial = today + dt.timedelta(days=API_TOKEN_DEFAULT_DAYS)
        self.latest = today + dt.timedelta(days=API_TOKEN_MAX_DAYS)
        self.fields["expires_on"].widget.attrs.update({"min": (today + dt.timedelta(days=1)).isoformat(),
                                                      "max": self.latest.isoformat()})
        self.fields["expires_on"].help_text = _("Dans %(days)s jours par défaut, un an au plus.") % {
            "days": API_TOKEN_DEFAULT_DAYS}

    def clean_expires_on(self):
        from django.utils import timezone

        value = self.cleaned_data["expires_on"]
        if value <= timezone.localdate():
            raise forms.ValidationError(_("Choisissez une date à venir."))
        if value > self.latest:
            raise forms.ValidationError(_("Un jeton expire au plus tard dans un an (le %(date)s).") % {
                "date": self.latest.isoformat()})
        return value
