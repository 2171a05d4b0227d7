"""Form plumbing shared by the apps' views: a service's ValidationError shown on the form's fields, and the
"valid POST → service → message → redirect, else the form again" step every form view makes."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect


def apply_validation_error(form, exc: ValidationError) -> None:
    """Put a service's errors on the form: on their field when the form has it, else on the whole form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def submit(request, form, action: Callable[[dict], object], *, success: str | Callable[[object], str],
           then: Callable[[object], str]) -> HttpResponse | None:
    """On a POST whose form is valid, run `action(form.cleaned_data)` (a service call). When it succeeds: a
    success message and a redirect to `then(result)`. When it raises ValidationError, its messages go on the form
    and None is returned (the view renders the form again, with status 400 on a POST)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        result = action(dict(form.cleaned_data))
    except ValidationError as exc:
        apply_validation_error(form, exc)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return redirect(then(result))


def status_for(request) -> int:
    """200 for a form shown, 400 for a form sent back with errors."""
    return 400 if request.method == "POST" else 200


def posted_id(request, name: str) -> int | None:
    """The primary key a POST names in `name` (digits only, within a bigint), else None."""
    text = str(request.POST.get(name, ""))
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
