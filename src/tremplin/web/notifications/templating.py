"""Mail templates that programme managers edit: plain text with `{{ placeholder }}` slots, nothing else.

Not Django's template language on purpose: an edited template must not reach attributes (`{{ user.password }}`),
tags or filters. A template names only the placeholders its kind declares; anything else between double braces
(an unknown name, a dotted path, a filter, a `{% tag %}`, an unclosed `{{`) is refused when it is saved, with the
offending text quoted, so a typo never reaches a recipient as a literal `{{ nmae }}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.utils.translation import gettext as _

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
# Anything that looks like template syntax: double braces (closed or not) and block tags.
SYNTAX = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)|\}\}", re.DOTALL)


def placeholders_in(text: str) -> list[str]:
    """Placeholder names used in `text`, in order of first use."""
    seen: list[str] = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def template_errors(text: str, allowed: Iterable[str]) -> list[str]:
    """What is wrong with `text` (empty list when it can be saved): unknown placeholders, malformed syntax."""
    allowed = list(allowed)
    errors: list[str] = []
    for match in SYNTAX.finditer(text or ""):
        snippet = match.group(0)
        placeholder = PLACEHOLDER.fullmatch(snippet)
        if placeholder is None:
            errors.append(_("« %(text)s » n'est pas une variable valide : écrivez {{ nom }} avec un nom permis.")
                          % {"text": snippet[:60]})
        elif placeholder.group(1) not in allowed:
            errors.append(_("Variable inconnue « {{ %(name)s }} ». Variables permises : %(allowed)s.")
                          % {"name": placeholder.group(1),
                             "allowed": ", ".join("{{ " + a + " }}" for a in allowed) or _("aucune")})
    return errors


def render(text: str, context: Mapping[str, object]) -> str:
    """`text` with each placeholder replaced by its value in `context` (missing values: empty)."""
    def value(match: re.Match) -> str:
        item = context.get(match.group(1), "")
        return "" if item is None else str(item)

    return PLACEHOLDER.sub(value, text or "")
