"""Built-in job handlers."""

from __future__ import annotations

import time

from tremplin.web.jobs.registry import job_handler


@job_handler("demo.count")
def count_slowly(params: dict, progress) -> dict:
    """Count to `steps`, sleeping `delay` seconds per step: a harmless job to try the machinery."""
    steps = int(params.get("steps", 10))
    delay = float(params.get("delay", 0.2))
    total = 0
    for i in range(steps):
        time.sleep(delay)
        total += i + 1
        progress((i + 1) / steps, f"{i + 1}/{steps}")
    return {"total": total, "steps": steps}


@job_handler("demo.fail")
def fail(params: dict, progress) -> dict:
    progress(0.5, "halfway")
    raise ValueError(params.get("message", "This job fails on purpose."))
