#!/usr/bin/env python3
"""Refresh the vendored static assets from installed Python packages (no network at run time).

- plotly.min.js from the PyPI `plotly` package (its `package_data`), with its licence header kept.

Run with the project's virtualenv: `make vendor` (or `.venv/bin/python scripts/vendor_static.py`).
"""

from __future__ import annotations

import shutil
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src" / "tremplin" / "web" / "static" / "tremplin" / "vendor"


def plotly_js() -> Path:
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("The `plotly` package is not installed in this interpreter: run make install first.")
    source = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not source.is_file():
        sys.exit(f"{source} not found: the installed plotly package does not ship plotly.min.js.")
    return source


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    source = plotly_js()
    target = VENDOR / "plotly.min.js"
    shutil.copyfile(source, target)
    header = source.read_text(encoding="utf-8", errors="replace")[:200].splitlines()
    version = next((line.strip("* ") for line in header if "plotly.js v" in line), "plotly.js")
    (VENDOR / "plotly.LICENSE.txt").write_text(
        f"{version} — MIT licence, Copyright Plotly, Inc. (https://github.com/plotly/plotly.js).\n"
        f"Copied from the PyPI `plotly` package by scripts/vendor_static.py.\n", encoding="utf-8")
    print(f"{target.relative_to(ROOT)} <- {source} ({target.stat().st_size:,} bytes, {version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
