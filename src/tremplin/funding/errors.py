"""Errors of the funding library."""

from __future__ import annotations

from tremplin.engine.errors import EngineInputError


class FundingInputError(EngineInputError):
    """Bad user input (unknown model, parameter or value, unusable data); the message lists the allowed values.

    A subclass of the engine's `EngineInputError`, so callers handling that (the CLI exits with code 2) handle it.
    """


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """`value` if it is one of `allowed`, else a `FundingInputError` naming the allowed values."""
    if value not in allowed:
        raise FundingInputError(f"invalid {name} {value!r}; allowed values: {', '.join(allowed)}.")
    return str(value)
