"""The placeholder language of editable mail templates: what is accepted, what is refused, how it renders."""

from __future__ import annotations

import pytest

from tremplin.web.notifications.templating import placeholders_in, render, template_errors

ALLOWED = ["name", "call_title"]


def test_render_replaces_known_placeholders_with_or_without_spaces():
    text = "Bonjour {{ name }}, l'appel « {{call_title}} » {{  name  }}."
    assert render(text, {"name": "Ines", "call_title": "Santé"}) == "Bonjour Ines, l'appel « Santé » Ines."
    assert placeholders_in(text) == ["name", "call_title"]
    assert template_errors(text, ALLOWED) == []


def test_render_leaves_no_attribute_access_and_a_missing_value_is_empty():
    assert render("{{ name }}-{{ call_title }}", {"name": "A"}) == "A-"
    # Only whole placeholders are replaced: a dotted path is not syntax of this language (and is refused below).
    assert render("{{ name.password }}", {"name": "A"}) == "{{ name.password }}"


@pytest.mark.parametrize("text, quoted", [
    ("Bonjour {{ nom }}", "{{ nom }}"),                       # unknown (French name for `name`)
    ("{{ name.password }}", "{{ name.password }}"),           # attribute access
    ("{{ name|upper }}", "{{ name|upper }}"),                 # filter
    ("{% if name %}x{% endif %}", "{% if name %}"),           # tag
    ("Bonjour {{ name", "{{ name"),                           # not closed
    ("Bonjour name }}", "}}"),                                # stray closing braces
    ("{{ Name }}", "{{ Name }}"),                             # names are lower case
])
def test_template_errors_name_what_is_wrong(text, quoted):
    errors = template_errors(text, ALLOWED)
    assert errors, text
    assert any(quoted.replace("{{ ", "").replace(" }}", "").strip("{}% ")[:8] in e for e in errors), errors


def test_unknown_placeholder_error_lists_the_allowed_ones():
    (error,) = template_errors("{{ budget }}", ALLOWED)
    assert "budget" in error and "{{ name }}" in error and "{{ call_title }}" in error


def test_single_braces_are_plain_text():
    assert template_errors("Budget {total} en {euros}", ALLOWED) == []
    assert render("a {b} c", {}) == "a {b} c"
