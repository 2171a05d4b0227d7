"""Money and percentages as each language writes them (120 000 $ CA / CA$120,000; 97 %; +12 %)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils import formats
from django.utils.translation import get_language

register = template.Library()

SYMBOLS = {"CAD": ("$ CA", "CA$"), "EUR": ("€", "€"), "USD": ("$ US", "US$")}


def _french() -> bool:
    return (get_language() or "fr").startswith("fr")


def _number(value: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return formats.number_format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), places,
                                 use_l10n=True, force_grouping=True)


@register.filter
def money(value, currency: str = "EUR"):
    """`value` in `currency`, without decimals from 100 up, with two below (a cost per person: 0,25 $ CA)."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    places = 0 if abs(value) >= 100 else 2
    after, before = SYMBOLS.get(currency, (currency, currency + " "))
    text = _number(value, places)
    return f"{text}\u00a0{after}" if _french() else f"{before}{text}"


@register.filter
def count(value):
    """A whole number with the language's grouping (2 440 / 2,440)."""
    if value is None or value == "":
        return "—"
    return _number(Decimal(value), 0)


@register.filter
def percent(value, places: int = 0):
    """A fraction as a percentage (0.97 → 97 %)."""
    if value is None or value == "":
        return "—"
    text = _number(Decimal(value) * 100, int(places))
    return f"{text}\u00a0%" if _french() else f"{text}%"


@register.filter
def change(value):
    """A relative change, signed (0.12 → +12 %, -0.08 → −8 %)."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return sign + percent(abs(value))


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
