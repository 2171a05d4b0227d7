"""Security helpers referenced from settings."""

from __future__ import annotations


def axes_username(request, credentials: dict | None) -> str:
    """The identifier django-axes throttles on: allauth logs in by e-mail (`login` field)."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("login")
    username = credentials.get("username")
    if not value and username:
        # axes passes {"username": user.get_username()} on success (to reset the failures) and the Django
        # admin login form posts a username: map both to the account's e-mail, the key failures use.
        from django.contrib.auth import get_user_model

        value = (get_user_model().objects.filter(username=username).values_list("email", flat=True).first()
                 or username)
    if not value and request is not None:
        value = request.POST.get("login", "")
    return str(value or "").strip().lower()


# Session key holding the id of the user who proved a second factor *in this session* (TOTP or recovery code at
# login or re-authentication, or the code that activated their TOTP). A configured TOTP alone is not enough.
MFA_VERIFIED_SESSION_KEY = "tremplin_mfa_verified_user"


def mfa_required(user) -> bool:
    """True when the user must use a second factor: superusers, staff (the Django admin) and the roles of
    settings.MFA_REQUIRED_ROLES (they reach care data)."""
    from django.conf import settings

    return bool(user.is_superuser or user.is_staff or user.has_role(*settings.MFA_REQUIRED_ROLES))


def has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def mfa_missing(user) -> bool:
    """True when the user's role requires a second factor and none is set up."""
    return mfa_required(user) and not has_totp(user)


def mark_mfa_verified(request, user) -> None:
    """Record in the session that `user` proved a second factor in it (survives the login's session-key cycle)."""
    request.session[MFA_VERIFIED_SESSION_KEY] = str(user.pk)


def session_mfa_verified(request) -> bool:
    """True when the signed-in user of this request proved a second factor in this very session."""
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    if user is None or not user.is_authenticated or session is None:
        return False
    return session.get(MFA_VERIFIED_SESSION_KEY) == str(user.pk)


def _on_authenticator_used(sender, request, user, authenticator, **kwargs) -> None:
    """allauth's `authenticator_used`: a TOTP or recovery code was accepted (login stage or re-authentication)."""
    if request is not None and user is not None:
        mark_mfa_verified(request, user)


def _on_authenticator_added(sender, request, user, authenticator, **kwargs) -> None:
    """allauth's `authenticator_added`: activating a TOTP needs a valid code from it, a proof of the factor."""
    from allauth.mfa.models import Authenticator

    if request is not None and user is not None and authenticator.type == Authenticator.Type.TOTP:
        mark_mfa_verified(request, user)


def connect_mfa_signals() -> None:
    from allauth.mfa import signals

    signals.authenticator_used.connect(_on_authenticator_used, dispatch_uid="tremplin_mfa_used")
    signals.authenticator_added.connect(_on_authenticator_added, dispatch_uid="tremplin_mfa_added")


def _fernet():
    import base64
    import hashlib

    from cryptography.fernet import Fernet
    from django.conf import settings

    digest = hashlib.sha256(b"tremplin-mfa-secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


try:
    from allauth.mfa.adapter import DefaultMFAAdapter
except ImportError:  # pragma: no cover - allauth is a hard dependency
    DefaultMFAAdapter = object


class MfaAdapter(DefaultMFAAdapter):
    """TOTP secrets are encrypted at rest (key derived from SECRET_KEY), and users whose role requires a
    second factor cannot remove their last TOTP authenticator."""

    def encrypt(self, text: str) -> str:
        return _fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _fernet().decrypt(encrypted_text.encode()).decode()

    def can_delete_authenticator(self, authenticator) -> bool:
        from allauth.mfa.models import Authenticator

        if authenticator.type != Authenticator.Type.TOTP:
            return True
        return not mfa_required(authenticator.user)
