"""The Corresponding Source of the running platform, as offered by the footer link (AGPL-3.0 section 13).

The archive holds the code that is actually running: the installed `tremplin` package (Python modules,
templates, translations, static files, including vendored third-party assets with their licences) plus the
project files next to it when running from a checkout (pyproject.toml, LICENSE, README.md, Makefile, docs).
Byte-compiled files and anything outside those places (data directory, secrets, databases) are never included.
"""

from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path

import tremplin

PACKAGE_DIR = Path(tremplin.__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parents[1]  # src/tremplin -> the repository, when running from a checkout
PROJECT_FILES = ("pyproject.toml", "LICENSE", "README.md", "DEVELOPERS.md", "Makefile", "manage.py")
PROJECT_DIRS = ("docs", "scripts")
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".mo")
SKIPPED_DIRS = {"__pycache__"}
ROOT = f"tremplin-{tremplin.__version__}"  # the archive's top folder


def archive_name() -> str:
    return f"{ROOT}-source.zip"


def _files() -> list[tuple[Path, str]]:
    """(path on disk, name in the archive) of every file the archive holds, sorted by name."""
    found: list[tuple[Path, str]] = []

    def add_tree(base: Path, prefix: str) -> None:
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(base)
            if not path.is_file() or SKIPPED_DIRS.intersection(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
                continue
            found.append((path, f"{ROOT}/{prefix}{relative.as_posix()}"))

    add_tree(PACKAGE_DIR, "src/tremplin/")
    if (CHECKOUT_DIR / "pyproject.toml").is_file():  # running from a checkout (or an editable install)
        for name in PROJECT_FILES:
            if (CHECKOUT_DIR / name).is_file():
                found.append((CHECKOUT_DIR / name, f"{ROOT}/{name}"))
        for name in PROJECT_DIRS:
            if (CHECKOUT_DIR / name).is_dir():
                add_tree(CHECKOUT_DIR / name, f"{name}/")
    return sorted(found, key=lambda item: item[1])


@functools.cache
def archive() -> bytes:
    """The zip archive (built once per process: the running code does not change under it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in _files():
            zf.write(path, name)
    return buffer.getvalue()
