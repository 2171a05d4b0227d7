"""Test settings: production settings with test-friendly overrides (fast hasher, temp data dir)."""

import os
import tempfile

os.environ.setdefault("TREMPLIN_TESTING", "1")
os.environ.setdefault("TREMPLIN_DATA_DIR", os.path.join(tempfile.gettempdir(), f"tremplin-test-{os.getpid()}"))

from tremplin.web.settings import *  # noqa: E402,F403

AXES_ENABLED = True
Q_CLUSTER = {**Q_CLUSTER, "sync": False}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
