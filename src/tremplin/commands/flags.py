"""The engine's parameters in the command line's words.

Engine messages name a parameter in backticks, as a Python caller writes it (`cohort`, `treated_share`,
`method="cs"`, `bootstrap=N`); the commands print them as their flags (--cohort, --treated-share,
--method cs, --bootstrap N). A parameter that no command offers stays as the engine wrote it.

A flag with a fixed set of values is checked by the engine's own `check_choice` (`check_flag`), so that the
command line and the engine word an "allowed values" error the same way.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import typer

from tremplin.engine.errors import EngineInputError
from tremplin.engine.options import check_choice

__all__ = ["FLAGS", "check_flag", "cli_result", "cli_text", "fail"]

FLAGS: dict[str, str] = {
    name: "--" + name.replace("_", "-")
    for name in (
        # tremplin estimate
        "outcome", "unit", "time", "cohort", "treatment", "method", "control", "estimation", "covariates",
        "cluster", "weights", "bootstrap", "seed", "seasonality", "format",
        # tremplin generate, validate, panel
        "persons", "territories", "years", "treated_share", "effect", "effect_growth", "cohort_heterogeneity",
        "start_year", "max_errors", "period", "outcomes", "engine", "interventions",
        # tremplin power
        "correlation",
    )
}
"""Engine parameter -> the flag that sets it."""

SPECIAL: dict[str, str] = {"to_dict()": "--format json"}
"""Engine words for what a command offers under another name."""

_MARKER = re.compile(r"`(?P<name>[A-Za-z_][\w]*(?:\(\))?)(?:=\"?(?P<value>[^`\"]*)\"?)?`")


def cli_text(text: str) -> str:
    """`text` with the engine's parameter names replaced by the flags that set them."""

    def flag(match: re.Match[str]) -> str:
        name, value = match.group("name"), match.group("value")
        if value is None and name in SPECIAL:
            return SPECIAL[name]
        if name not in FLAGS:
            return match.group(0)
        return FLAGS[name] if value is None else f"{FLAGS[name]} {value}"

    return _MARKER.sub(flag, text)


def cli_result(contract: dict[str, Any]) -> dict[str, Any]:
    """A result's JSON contract with its warnings and notes in the command line's words."""
    out = dict(contract)
    for key in ("warnings", "notes"):
        if isinstance(out.get(key), list):
            out[key] = [cli_text(w) if isinstance(w, str) else w for w in out[key]]
    return out


def fail(message: str) -> NoReturn:
    """Print `message` (engine words translated) as the command's error on stderr and exit with code 2."""
    typer.echo(f"Error: {cli_text(message)}", err=True)
    raise typer.Exit(code=2)


def check_flag(name: str, value: object, allowed: Any) -> None:
    """A flag's value checked by the engine's `check_choice`: the one wording of an "allowed values" error."""
    try:
        check_choice(name, value, allowed)
    except EngineInputError as exc:
        fail(str(exc))
