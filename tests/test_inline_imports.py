"""Imports inside functions (ruff's PLC0415) carry a reason from the fixed list, as in pretalx.

Ruff flags every function-level import in the parts where the rule is on (pyproject.toml); each one kept
is suppressed with ``# noqa: PLC0415 -- <reason>``, the reason one of DEVELOPERS.md's list.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = [ROOT / "src/tremplin/engine", ROOT / "src/tremplin/funding", ROOT / "src/tremplin/commands",
           ROOT / "src/tremplin/cli.py"]
REASONS = ("slow import", "optional dependency", "circular import")
NOQA = re.compile(r"#\s*noqa:\s*PLC0415(?:\s*--\s*(?P<reason>[^#]*?))?\s*$")


def _files():
    for place in CHECKED:
        yield from ([place] if place.is_file() else sorted(place.rglob("*.py")) if place.is_dir() else [])


def test_the_reasons_are_the_ones_developers_md_lists():
    text = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    assert all(f"`{reason}`" in text for reason in REASONS)


def test_every_function_level_import_carries_a_reason_from_the_list():
    problems = []
    for path in _files():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    match = NOQA.search(lines[inner.lineno - 1])
                    reason = match.group("reason") if match else None
                    if reason not in REASONS:
                        problems.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {reason or 'no reason'}")
    assert sorted(set(problems)) == []


def test_the_check_sees_a_missing_or_unlisted_reason():
    """The pattern the test relies on: a reason from the list is read, another one is not accepted."""
    assert NOQA.search("    import x  # noqa: PLC0415 -- slow import").group("reason") == "slow import"
    assert NOQA.search("    import x  # noqa: PLC0415 -- because").group("reason") not in REASONS
    assert NOQA.search("    import x  # noqa: PLC0415").group("reason") is None
