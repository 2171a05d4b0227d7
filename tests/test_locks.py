"""The environment the suite runs in is the one the lock files describe (requirements/, `make lock`)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

REPO_DIR = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(name: str) -> dict[str, str]:
    """Pins of a lock file that apply to this interpreter and platform: {canonical name: version}."""
    pins = {}
    for line in (REPO_DIR / "requirements" / name).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        package, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            pins[canonicalize_name(package)] = version
    return pins


def test_every_pin_has_hashes():
    text = (REPO_DIR / "requirements" / "dev.txt").read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(blocks) > 100
    for block in blocks:
        assert "--hash=sha256:" in block, f"a pin without a hash: {block.splitlines()[0]}"


def test_runtime_and_dev_locks_agree():
    runtime, dev = locked("runtime.txt"), locked("dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_installed_environment_is_the_dev_lock():
    """Every locked package is installed at its locked version (catches an install that floated)."""
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    pins = {**locked("build.txt"), **locked("dev.txt")}
    wrong = {name: (version, installed.get(name)) for name, version in pins.items() if installed.get(name) != version}
    assert not wrong, f"installed versions differ from requirements/dev.txt (run `make install-dev`): {wrong}"


def test_locks_are_current_with_pyproject(tmp_path):
    result = subprocess.run([sys.executable, str(REPO_DIR / "scripts" / "lock.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("change", ['"polars>=1.0",', '"Django>=5.2,<5.3",'])
def test_lock_check_fails_when_dependencies_change(tmp_path, change):
    """A copy of the project whose pyproject.toml lost a dependency is told to run `make lock`."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "lock.py").write_text((REPO_DIR / "scripts" / "lock.py").read_text())
    (tmp_path / "requirements").mkdir()
    for lock in (REPO_DIR / "requirements").iterdir():
        (tmp_path / "requirements" / lock.name).write_text(lock.read_text())
    pyproject = (REPO_DIR / "pyproject.toml").read_text()
    assert change in pyproject
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(change, ""))
    result = subprocess.run([sys.executable, str(tmp_path / "scripts" / "lock.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "run `make lock`" in result.stderr
