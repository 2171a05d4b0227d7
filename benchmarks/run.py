"""`make bench`: run every benchmarks/bench_*.py in turn (each prints ratios against peers measured
in the same run). Pass names to run a subset: `python benchmarks/run.py panel synth`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(name in s.stem for name in argv)]
    failures = []
    for script in scripts:
        print(f"\n{'=' * 78}\n{script.stem}\n{'=' * 78}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"-- {script.stem}: {'ok' if code == 0 else f'FAILED (exit {code})'} "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failures.append(script.stem)
    if failures:
        print("failed benchmarks: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
