"""The `tremplin` command: engine and funding tools from the terminal.

Command groups live in `tremplin.commands.*`; each module exposes `register(app)`.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from tremplin import commands

app = typer.Typer(
    name="tremplin",
    help="Tremplin: care data, impact evaluation and funding models from the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()

if __name__ == "__main__":  # pragma: no cover
    app()
