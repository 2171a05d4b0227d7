"""Generator benchmark: events per second and peak RSS, against the Parquet write floor, same run.

    python benchmarks/bench_generator.py             # 2 M and 10 M events
    BENCH_LARGE=1 python benchmarks/bench_generator.py   # also 100 M events (goal: < 4 GiB peak RSS)

Each run is a subprocess; peak RSS is its resident memory sampled with psutil. The "write floor"
writes the same number of care-event rows (copies of real generated rows, already in memory, in the
same chunking) with PyArrow alone: what writing costs before generating anything. Bounded memory
shows as a peak RSS that does not grow with the number of events.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve()
EVENTS_PER_PERSON = 86.0


def worker_generate(out: Path, events: int) -> dict:
    from tremplin.engine.generator import generate_region

    t0 = time.perf_counter()
    result = generate_region(out, persons=int(events / EVENTS_PER_PERSON), territories=1000, years=5, seed=1)
    return {"events": result.events, "seconds": time.perf_counter() - t0}


def worker_write_floor(out: Path, events: int) -> dict:
    import pyarrow.parquet as pq

    from tremplin.engine import schemas
    from tremplin.engine.generator import generate_region

    sample_dir = out.parent / "sample"
    generate_region(sample_dir, persons=12_000, territories=50, years=5, seed=2)
    sample = pq.read_table(sample_dir / "care_events.parquet")
    chunk = sample.slice(0, min(sample.num_rows, 1_000_000)).combine_chunks()
    t0 = time.perf_counter()
    written = 0
    out.mkdir()
    with pq.ParquetWriter(out / "care_events.parquet", schemas.CARE_EVENTS) as w:
        while written < events:
            part = chunk.slice(0, min(chunk.num_rows, events - written))
            w.write_table(part)
            written += part.num_rows
    return {"events": written, "seconds": time.perf_counter() - t0}


def run(kind: str, events: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tremplin-bench-gen-"))
    try:
        proc = subprocess.Popen(
            [sys.executable, str(HERE), "--worker", kind, str(tmp / "out"), str(events)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        peak, ps = 0, psutil.Process(proc.pid)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            time.sleep(0.02)
        out = proc.stdout.read().decode() if proc.stdout else ""
        if proc.returncode != 0:
            raise RuntimeError(f"{kind} failed: {out[-2000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        result["peak_rss_mb"] = peak / 2**20
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    sizes = [2_000_000, 10_000_000] + ([100_000_000] if os.environ.get("BENCH_LARGE") == "1" else [])
    rows = []
    for size in sizes:
        print(f"  generating ~{size:,} events ...", flush=True)
        gen = run("generate", size)
        floor = run("write_floor", gen["events"])
        rows.append((size, gen, floor))
    print("\nSynthetic generator (1,000 territories, 5 years), same run")
    print(
        f"{'target events':>14} {'events':>12} {'seconds':>8} {'events/s':>11} {'peak RSS MB':>12} "
        f"{'write floor s':>14} {'time / floor':>13}"
    )
    for size, gen, floor in rows:
        print(
            f"{size:14,} {gen['events']:12,} {gen['seconds']:8.1f} {gen['events'] / gen['seconds']:11,.0f} "
            f"{gen['peak_rss_mb']:12.0f} {floor['seconds']:14.1f} {gen['seconds'] / floor['seconds']:13.1f}"
        )
    first, last = rows[0][1], rows[-1][1]
    print(
        f"\nPeak RSS at {rows[-1][1]['events']:,} events / at {rows[0][1]['events']:,} events = "
        f"{last['peak_rss_mb'] / first['peak_rss_mb']:.2f} (bounded memory: stays near 1 while events grow "
        f"{last['events'] / first['events']:.0f}x; goal < 4 GiB at 100 M)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        func = globals()[f"worker_{sys.argv[2]}"]
        print(json.dumps(func(Path(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
