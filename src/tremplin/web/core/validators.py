"""Validators shared by models."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _


def validate_url_lines(text: str, *, field: str) -> None:
    """One http(s) address per line (never javascript: or data: links); the error names the line."""
    validate = URLValidator(schemes=["http", "https"])
    for number, line in enumerate((text or "").splitlines(), start=1):
        if line.strip():
            try:
                validate(line.strip())
            except ValidationError as exc:
                raise ValidationError({field: _("Ligne %(n)s : adresse web invalide (http ou https).")
                                       % {"n": number}}) from exc
