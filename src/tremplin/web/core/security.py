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


def mfa_missing(user) -> bool:
    """True when the user's role requires a second factor (settings.MFA_REQUIRED_ROLES) and none is set up."""
    from allauth.mfa.models import Authenticator
    from django.conf import settings

    if not (user.is_superuser or user.has_role(*settings.MFA_REQUIRED_ROLES)):
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


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
        from django.conf import settings

        user = authenticator.user
        if authenticator.type != Authenticator.Type.TOTP:
            return True
        return not (user.is_superuser or user.has_role(*settings.MFA_REQUIRED_ROLES))
