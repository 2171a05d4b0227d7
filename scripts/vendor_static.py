#!/usr/bin/env python3
"""Refresh the vendored static assets at build time (no network at run time).

- plotly.min.js: the *basic* distribution of plotly.js (scatter, bar, pie: every chart Tremplin draws)
  from the npm package `plotly.js-basic-dist-min`, at the plotly.js version bundled by the installed PyPI
  `plotly` package (so figures built in Python and the browser library agree). The full bundle also
  carries map traces that fetch tiles, icons and fonts from CDNs; the basic one does not. Its two
  remaining default URLs are neutralised: `topojsonURL` (geo traces only, absent from this bundle) points
  to a local folder, and `plotlyServerURL` (the opt-in "edit in Chart Studio" link) is emptied.

Needs `npm` (the npm registry) when run: `make vendor` (or `.venv/bin/python scripts/vendor_static.py`).
The result is committed; nothing is fetched by the platform or the tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src" / "tremplin" / "web" / "static" / "tremplin" / "vendor"
NPM_PACKAGE = "plotly.js-basic-dist-min"
# (what the bundle says, what we ship instead): defaults that would point a browser off the machine
NEUTRALISED = (
    ('topojsonURL:{valType:"string",noBlank:!0,dflt:"https://cdn.plot.ly/un/"}',
     'topojsonURL:{valType:"string",noBlank:!0,dflt:"topojson/"}'),
    ('plotlyServerURL:{valType:"string",dflt:"https://cloud.plotly.com/newchart"}',
     'plotlyServerURL:{valType:"string",dflt:""}'),
)
EXTERNAL_HOST = re.compile(r"https?://(?!www\.w3\.org/)[a-z0-9.-]*(cdn|cloud|tiles|fonts)[a-z0-9.-]*", re.I)


def plotly_js_version() -> str:
    """The plotly.js version bundled by the installed `plotly` Python package."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("The `plotly` package is not installed in this interpreter: run make install first.")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    match = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", bundled.read_text(encoding="utf-8", errors="replace")[:300])
    if not match:
        sys.exit(f"Cannot read the plotly.js version from {bundled}.")
    return match.group(1)


def basic_bundle(version: str, workdir: Path) -> str:
    subprocess.run(["npm", "pack", f"{NPM_PACKAGE}@{version}", "--silent"], cwd=workdir, check=True)
    archive = next(workdir.glob(f"{NPM_PACKAGE}-*.tgz"))
    with tarfile.open(archive) as tar:
        member = tar.extractfile("package/plotly-basic.min.js")
        if member is None:
            sys.exit(f"{archive.name} has no package/plotly-basic.min.js")
        return member.read().decode("utf-8")


def neutralise(js: str) -> str:
    for original, local in NEUTRALISED:
        if original not in js:
            sys.exit(f"plotly.js changed: {original!r} not found; review NEUTRALISED in {__file__}.")
        js = js.replace(original, local)
    left = sorted(set(EXTERNAL_HOST.findall(js)))
    if left:
        sys.exit(f"External hosts still referenced by the bundle: {left}")
    return js


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    version = plotly_js_version()
    with tempfile.TemporaryDirectory() as tmp:
        js = neutralise(basic_bundle(version, Path(tmp)))
    target = VENDOR / "plotly.min.js"
    target.write_text(js, encoding="utf-8")
    (VENDOR / "plotly.LICENSE.txt").write_text(
        f"plotly.js v{version} (basic distribution) — MIT licence, Copyright Plotly, Inc. "
        "(https://github.com/plotly/plotly.js).\n"
        f"From the npm package {NPM_PACKAGE}@{version} by scripts/vendor_static.py, with two default URLs "
        "neutralised (topojsonURL, plotlyServerURL) so that nothing points off the machine.\n", encoding="utf-8")
    print(f"{target.relative_to(ROOT)} <- {NPM_PACKAGE}@{version} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
