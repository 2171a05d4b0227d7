"""Validation shared by every import: the model's own rules, located by line and column, and no NUL.

An import builds one (unsaved) model instance per row and asks `row_errors` what is wrong with it, before
anything is written. `full_clean` checks what the database column can hold — a CharField's max_length, a
DecimalField's max_digits and decimal_places (and that it is finite), an integer field's range, choices,
validators — so a value accepted by an import is a value every page and the API can read back, on SQLite
and on PostgreSQL. NUL characters, which PostgreSQL refuses in text and SQLite truncates, are refused in
every text field (forms and DRF already refuse them; imports did not).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils.translation import gettext as _

NUL = "\x00"
# Integer columns' ranges on PostgreSQL (SQLite accepts 64 bits everywhere): checked on every database, so
# that what SQLite accepts PostgreSQL accepts too.
PORTABLE_INTEGER_RANGES: Mapping[str, tuple[int, int]] = BaseDatabaseOperations.integer_field_ranges
MAX_ID = PORTABLE_INTEGER_RANGES["BigIntegerField"][1]  # primary keys are BigAutoField


def parse_id(value: object) -> int | None:
    """A primary key written as decimal digits (1 to MAX_ID), else None: never an out-of-range integer that
    would overflow the database driver."""
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def nul_error() -> str:
    return _("caractère nul interdit")


def has_nul(value: object) -> bool:
    return isinstance(value, str) and NUL in value


def nul_columns(row: Mapping[str, object]) -> list[str]:
    """The columns of a parsed CSV row holding a NUL character (in the row's order)."""
    return [column for column, value in row.items() if has_nul(value)]


def instance_errors(instance: models.Model, *, exclude: Iterable[str] = (),
                    everything: bool = False) -> dict[str, list[str]]:
    """{field name: messages} of the model's full validation, with NUL characters refused in text fields and
    integers kept in PostgreSQL's column ranges. Uniqueness and constraints are left to an import (it knows
    the other rows of the file) unless `everything`."""
    exclude = set(exclude)
    errors: dict[str, list[str]] = {}
    for field in instance._meta.concrete_fields:
        if field.name not in exclude and has_nul(getattr(instance, field.attname, None)):
            errors[field.name] = [nul_error()]
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname, None)
        limits = PORTABLE_INTEGER_RANGES.get(field.get_internal_type())
        if field.name in exclude or field.name in errors or limits is None or not isinstance(value, int):
            continue
        try:
            MinValueValidator(limits[0])(value)
            MaxValueValidator(limits[1])(value)
        except ValidationError as exc:
            errors[field.name] = exc.messages
    try:
        instance.full_clean(exclude=exclude | set(errors), validate_unique=everything,
                            validate_constraints=everything)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    return errors


def validate_instance(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Raise ValidationError({field: messages}) unless the instance can be saved as it is (services call this
    before `save`, so that no caller, form, API or command, stores what the database cannot hold)."""
    errors = instance_errors(instance, exclude=exclude, everything=True)
    if errors:
        raise ValidationError(errors)


def row_errors(line: int, instance: models.Model, *, columns: Mapping[str, str] | None = None,
               exclude: Iterable[str] = ()) -> Iterator[tuple[int, str, str]]:
    """(line, column, message) for each problem of `instance`; `columns` maps a field name to the file's
    column name (default: the field name; "*" for errors that are not about one field)."""
    columns = columns or {}
    for name, messages in instance_errors(instance, exclude=exclude).items():
        column = "*" if name == "__all__" else columns.get(name, name)
        for message in messages:
            yield line, column, message
