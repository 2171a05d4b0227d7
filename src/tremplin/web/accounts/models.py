"""Users, organisations, territories and memberships (roles): the base every capability uses."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Sector(models.TextChoices):
    """All sectors are equal partners of the public network: no sector is privileged in code."""

    PUBLIC = "public", _("Public")
    PRIVATE_FOR_PROFIT = "private_for_profit", _("Privé à but lucratif")
    PRIVATE_NON_PROFIT = "private_non_profit", _("Privé à but non lucratif")
    SOCIAL_ECONOMY = "social_economy", _("Coopératif / économie sociale")
    COMMUNITY = "community", _("Communautaire")


class OrganisationKind(models.TextChoices):
    HOSPITAL = "hospital", _("Hôpital")
    CLINIC = "clinic", _("Clinique")
    CPTS = "cpts", _("Communauté professionnelle territoriale de santé (CPTS)")
    NURSING_HOME = "nursing_home", _("Établissement pour personnes âgées (EHPAD, CHSLD)")
    STARTUP = "startup", _("Jeune pousse")
    MEDTECH = "medtech", _("Medtech")
    PHARMA = "pharma", _("Industrie pharmaceutique")
    ASSOCIATION = "association", _("Association")
    AGENCY = "agency", _("Agence")
    UNIVERSITY = "university", _("Université")
    OTHER = "other", _("Autre")


class TerritoryLevel(models.TextChoices):
    COUNTRY = "country", _("Pays")
    REGION = "region", _("Région")
    DEPARTMENT = "department", _("Département")
    COMMUNITY_AREA = "community_area", _("Territoire de proximité")


TERRITORY_LEVEL_ORDER = [
    TerritoryLevel.COUNTRY,
    TerritoryLevel.REGION,
    TerritoryLevel.DEPARTMENT,
    TerritoryLevel.COMMUNITY_AREA,
]


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrateur")
    PROGRAMME_MANAGER = "programme_manager", _("Responsable de programme")
    NETWORK_MEMBER = "network_member", _("Membre du réseau")
    INNOVATOR = "innovator", _("Innovateur")
    REVIEWER = "reviewer", _("Évaluateur expert (jury)")
    EVALUATOR = "evaluator", _("Évaluateur / analyste")
    DECISION_MAKER = "decision_maker", _("Décideur / payeur")


class User(AbstractUser):
    """A person. Roles come from memberships in organisations."""

    email = models.EmailField(_("adresse e-mail"), unique=True)
    display_name = models.CharField(_("nom affiché"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.email

    @property
    def roles(self) -> frozenset[str]:
        """The user's roles across all memberships (cached on the instance)."""
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            cached = frozenset(self.memberships.values_list("role", flat=True)) if self.pk else frozenset()
            self._roles_cache = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


class Territory(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("nom"), max_length=200)
    level = models.CharField(_("niveau"), max_length=20, choices=TerritoryLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)

    class Meta:
        verbose_name = _("territoire")
        verbose_name_plural = _("territoires")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Organisation(models.Model):
    name = models.CharField(_("nom"), max_length=200, unique=True)
    sector = models.CharField(_("secteur"), max_length=32, choices=Sector.choices)
    kind = models.CharField(_("type"), max_length=32, choices=OrganisationKind.choices)
    territory = models.ForeignKey(
        Territory, verbose_name=_("territoire"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="organisations",
    )
    website = models.URLField(_("site web"), blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, verbose_name=_("utilisateur"), on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("rôle"), max_length=32, choices=Role.choices)
    is_organisation_admin = models.BooleanField(
        _("gère l'organisation"), default=False,
        help_text=_("Peut modifier la fiche de l'organisation et ses membres."),
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("appartenance")
        verbose_name_plural = _("appartenances")
        ordering = ["organisation__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="unique_membership_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.organisation} ({self.get_role_display()})"



class ApiTokenScope(models.TextChoices):
    READ = "read", _("Lecture seule")
    READ_WRITE = "read_write", _("Lecture et écriture")


class ApiToken(models.Model):
    """A personal API token (`Authorization: Bearer <key>`), created and revoked by its owner.

    Only a SHA-256 of the key is stored (the key is shown once, at creation); `prefix` identifies it in lists.
    `mfa_verified` records that it was created from a session in which the owner proved a second factor:
    tokens without it never reach care data, nor anything for users whose role requires a second factor.
    """

    user = models.ForeignKey(User, verbose_name=_("utilisateur"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("nom"), max_length=100)
    scope = models.CharField(_("portée"), max_length=16, choices=ApiTokenScope.choices)
    prefix = models.CharField(_("début du jeton"), max_length=16)
    key_hash = models.CharField(_("empreinte du jeton"), max_length=64, unique=True)
    mfa_verified = models.BooleanField(_("créé après double authentification"), default=False)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expire le"))
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)

    audit_ignore_fields = ("last_used_at",)

    class Meta:
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active_at(self, moment) -> bool:
        return self.revoked_at is None and self.expires_at > moment
