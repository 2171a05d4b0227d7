"""Run the demo: web server + background worker, with the URL and demo logins printed.

Used by `make demo`; stops both processes on Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    from tremplin.web.core.demo import DEMO_PASSWORD, DEMO_USERS

    if not _port_free(args.host, int(args.port)):
        print(f"Port {args.port} on {args.host} is already in use: stop the other server or run "
              f"`make demo PORT=8001`.", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBUG": "1"}
    python = sys.executable
    worker = subprocess.Popen([python, "manage.py", "qcluster"], cwd=REPO, env=env, start_new_session=True)
    web = subprocess.Popen([python, "manage.py", "runserver", "--noreload", f"{args.host}:{args.port}"],
                           cwd=REPO, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while _port_free(args.host, int(args.port)):
        if web.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
            print("The web server or the worker did not start (see the messages above).", file=sys.stderr)
            for process in (web, worker):
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            return 1
        time.sleep(0.3)

    url = f"http://{args.host}:{args.port}/"
    lines = [
        "",
        "=" * 78,
        f"  Tremplin is running at {url}",
        f"  API documentation: {url}api/docs/   ·   OpenAPI schema: {url}api/schema/",
        "  Background worker: running (jobs page: /taches/)",
        "",
        f"  Demo logins (password for all: {DEMO_PASSWORD})",
    ]
    for email, _name, role, organisation, _admin in DEMO_USERS:
        lines.append(f"    {role:<18} {email:<32} {organisation[:26]}")
    lines += [
        "",
        "  admin and evaluator reach care data, so they use a second factor (TOTP):",
        "  get the current code with `make totp` in another terminal.",
        "  Press Ctrl+C to stop.",
        "=" * 78,
        "",
    ]
    print("\n".join(lines), flush=True)

    def stop(*_args):
        for process in (web, worker):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while web.poll() is None and worker.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
