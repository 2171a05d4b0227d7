"""Errors raised by the engine for bad user input (the CLI maps them to exit code 2)."""

from __future__ import annotations


class EngineInputError(ValueError):
    """Bad input from the user: unknown column, no treated unit, invalid option, ...

    The message is meant for the user, in plain words, and lists allowed values when relevant.
    """
