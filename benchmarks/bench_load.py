"""Bench for `make bench`: a load test. 50 signed-in users (innovators, network members, programme managers,
reviewers) browse and submit against gunicorn + PostgreSQL on loopback, on a large seeded data set (10,000
proposals, 50,000 reviews, 500 experiments, 50,000 problems). Goal (issue 20): p95 < 300 ms per page, 0 errors.

What runs: a throw-away PostgreSQL server (tests/run_on_postgres.py's, in a temporary directory, 127.0.0.1 only),
`manage.py migrate`, `manage.py seed_load` (bulk inserts), gunicorn with the production settings and the systemd
unit's worker layout (deploy/systemd/tremplin-web.service: 3 workers x 2 threads), then locust headless
(benchmarks/locustfile.py) for LOAD_SECONDS (60) or LOAD_MAX_REQUESTS (30,000) requests, whichever ends first.
Printed: throughput, p50/p95/p99 and errors per page; then, for every page, the server time of one request
without load (median of 5), its SQL queries and SQL time, to tell a slow page from a saturated machine.
Every figure comes from this run; on a machine shared with other work they grow with its load.

Environment: LOAD_USERS (50), LOAD_SECONDS (60), LOAD_MAX_REQUESTS (30000), LOAD_SCALE (1.0: fraction of the data
set, e.g. 0.1 for a quick try), LOAD_SKIP (page names left out, comma-separated: e.g.
"problem list,problem search,problem detail" measures the other pages without the queue those slow pages
cause). Exit code 1 when a request failed, 0 otherwise (the goal is reported, not enforced). Without PostgreSQL,
gunicorn or locust: skipped with the reason (exit 0), or failed (exit 1) under CI=true, as the test suite does.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
BIN = Path(sys.executable).parent
USERS = int(os.environ.get("LOAD_USERS", "50"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "30000"))
SCALE = float(os.environ.get("LOAD_SCALE", "1.0"))
SKIP = {name.strip() for name in os.environ.get("LOAD_SKIP", "").split(",") if name.strip()}
GOAL_P95_MS = 300
WORKERS, THREADS = 3, 2  # as deploy/systemd/tremplin-web.service


def say(message: str) -> None:
    print(message, flush=True)


def platform_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DJANGO_SETTINGS_MODULE", "TREMPLIN_TESTING", "DATABASE_URL", "DEBUG"}}
    env.update({
        "DATABASE_URL": database_url, "TREMPLIN_DATA_DIR": str(data_dir), "DEBUG": "0",
        # Production settings; plain static storage (no 80 s collectstatic), plain HTTP on loopback (no TLS proxy).
        "DJANGO_SETTINGS_MODULE": "tests.production_settings", "SECRET_KEY": "load-" + "k3#Vq9!x" * 8,
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_COOKIES": "0", "SECURE_SSL_REDIRECT": "0", "PYTHONUNBUFFERED": "1",
    })
    return env


def run(command: list[str], env: dict[str, str], what: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def wait_up(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    """Stop gunicorn: gracefully, or killed when requests still hang after 10 s."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def read_stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def num(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):  # locust writes N/A for a page without requests
        return 0.0


def print_stats(rows: list[dict], seconds: float) -> tuple[int, list[str]]:
    pages = [r for r in rows if r["Name"] != "Aggregated"]
    pages.sort(key=lambda r: -num(r["95%"]))
    width = max(len(r["Name"]) for r in rows)
    say(f"\n{'page':<{width}}  {'requests':>8} {'errors':>6} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    missed = []
    for r in [*pages, *[r for r in rows if r["Name"] == "Aggregated"]]:
        p95 = num(r["95%"])
        mark = "" if r["Name"] == "Aggregated" or p95 < GOAL_P95_MS else "  > goal"
        if mark:
            missed.append(r["Name"])
        say(f"{r['Name']:<{width}}  {int(r['Request Count']):>8} {int(r['Failure Count']):>6} "
            f"{num(r['Requests/s']):>6.1f} {num(r['50%']):>7.0f} {p95:>7.0f} {num(r['99%']):>7.0f}{mark}")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    errors = int(total["Failure Count"])
    say(f"\nthroughput {num(total['Requests/s']):.1f} requests/s over {seconds:.0f} s with {USERS} users; "
        f"{int(total['Request Count'])} requests, {errors} errors; overall p95 {num(total['95%']):.0f} ms")
    return errors, missed


def page_urls(fixture: dict) -> list[tuple[str, str, str]]:
    """(role, page name as in the locust statistics, URL) of every page the scenario visits."""
    reviewer = fixture["sessions"]["reviewer"][0]
    return [
        ("innovator", "dashboard", "/tableau-de-bord/"), ("innovator", "call list", "/appels/"),
        ("innovator", "call detail", f"/appels/{fixture['open_call']}/"),
        ("innovator", "my proposals", "/appels/mes-propositions/"),
        ("innovator", "problem list", "/problematiques/"),
        ("network_member", "problem search", "/problematiques/?q=coordination"),
        ("innovator", "problem detail", f"/problematiques/{fixture['problems'][0]}/"),
        ("innovator", "portfolio", "/experimentations/"),
        ("innovator", "submit draft proposal (form)", f"/appels/{fixture['open_call']}/proposer/"),
        ("network_member", "report problem (form)", "/problematiques/signaler/"),
        ("programme_manager", "call ranking (10,000 proposals)", f"/appels/{fixture['review_call']}/classement/"),
        ("programme_manager", "experiment detail", f"/experimentations/{fixture['experiments'][0]}/"),
        ("reviewer", "review queue", "/appels/a-evaluer/"),
        ("reviewer", "proposal detail (reviewer)",
         f"/appels/propositions/{fixture['assigned'][str(reviewer['user'])][0]}/"),
    ]


def warm_up(port: int, fixture: dict) -> None:
    """Each page a few times before measuring, so that every worker has imported and compiled what it serves."""
    for _ in range(3 * WORKERS):
        for role, name, url in page_urls(fixture):
            if name in SKIP:
                continue
            request = urllib.request.Request(f"http://127.0.0.1:{port}{url}", headers={
                "Cookie": f"sessionid={fixture['sessions'][role][0]['session']}"})
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                response.read()


def unloaded_profile(env: dict[str, str], fixture: dict) -> None:
    """Each page once more, without load, through Django's test client on the same database: server time,
    queries, SQL time (medians of 5)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    pages = page_urls(fixture)
    say(f"\nwithout load (one request at a time, Django test client): {'server ms':>9} {'queries':>7} {'SQL ms':>7}")
    for role, name, url in pages:
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies["sessionid"] = fixture["sessions"][role][0]["session"]
        client.get(url)
        times, sql, count = [], [], 0
        for _ in range(5):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - start)
            sql.append(sum(float(q["time"]) for q in ctx.captured_queries))
            count = len(ctx.captured_queries)
        status = "" if response.status_code == 200 else f"  (HTTP {response.status_code})"
        say(f"  {name:<52} {statistics.median(times) * 1000:>9.0f} {count:>7} {statistics.median(sql) * 1000:>7.0f}"
            f"{status}")


def missing_components(pg_bin_dir: Path | None) -> str:
    """What the load test needs and this machine lacks ("" when nothing is missing)."""
    missing = []
    if pg_bin_dir is None:
        missing.append("PostgreSQL (initdb, pg_ctl and postgres not found on PATH nor in /usr/lib/postgresql/*/bin; "
                       "apt-get install postgresql)")
    missing += [f"{tool} (make install-dev)" for tool in ("gunicorn", "locust") if not (BIN / tool).exists()]
    return ", ".join(missing)


def unavailable(missing: str) -> int:
    """As the test suite treats a missing component (tests/conftest.py::require): a skip with its reason locally,
    a failure under CI=true."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        say(f"FAILED: CI=true but the load test needs {missing}")
        return 1
    say(f"SKIPPED: the load test was not run: it needs {missing}")
    return 0


def main() -> int:
    from tests.run_on_postgres import LocalServer, find_bin_dir, free_port

    bin_dir = find_bin_dir()
    missing = missing_components(bin_dir)
    if missing:
        return unavailable(missing)
    tmp = Path(tempfile.mkdtemp(prefix="tremplin-bench-load-"))
    database = LocalServer(bin_dir)
    server = None
    try:
        url = database.start()
        env = platform_env(url, tmp / "data")
        (tmp / "data" / "static").mkdir(parents=True)
        say(f"migrate: {run([sys.executable, 'manage.py', 'migrate', '--no-input', '-v', '0'], env, 'migrate'):.1f} s")
        fixture_path = tmp / "fixture.json"
        counts = {"--problems": 50_000, "--proposals": 10_000, "--experiments": 500, "--reviewers": 500}
        seed = [sys.executable, "manage.py", "seed_load", "--sessions", str(fixture_path),
                *[str(v) for k, n in counts.items() for v in (k, max(10, int(n * SCALE)))]]
        say(f"seed_load ({', '.join(f'{k[2:]} {max(10, int(n * SCALE))}' for k, n in counts.items())}, "
            f"{max(10, int(10_000 * SCALE)) * 5} reviews): {run(seed, env, 'seed_load'):.1f} s")
        run([sys.executable, "manage.py", "shell", "-c", "from django.db import connection; "
             "connection.cursor().execute('VACUUM ANALYZE')"], env, "VACUUM ANALYZE")
        port = free_port()
        log = tmp / "gunicorn.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [str(BIN / "gunicorn"), "tremplin.web.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
                 str(WORKERS), "--threads", str(THREADS), "--timeout", "60", "--access-logfile", "/dev/null"],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_up(port, server, log)
        fixture = json.loads(fixture_path.read_text())
        warm_up(port, fixture)
        prefix = tmp / "locust"
        say(f"locust: {USERS} users (spawned at 10/s), {SECONDS} s or {MAX_REQUESTS} requests, against "
            f"gunicorn {WORKERS} workers x {THREADS} threads on 127.0.0.1:{port}"
            + (f"; pages left out: {', '.join(sorted(SKIP))}" if SKIP else ""))
        start = time.perf_counter()
        done = subprocess.run(
            [str(BIN / "locust"), "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless", "-u", str(USERS),
             "-r", "10", "-t", f"{SECONDS}s", "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix),
             "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env={**os.environ, "LOAD_FIXTURE": str(fixture_path), "LOAD_MAX_REQUESTS": str(MAX_REQUESTS),
                 "LOAD_SKIP": os.environ.get("LOAD_SKIP", "")},
            cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 300)
        elapsed = time.perf_counter() - start
        if not Path(f"{prefix}_stats.csv").exists():
            say(f"locust failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            return 1
        errors, missed = print_stats(read_stats(prefix), elapsed)
        failures = Path(f"{prefix}_failures.csv")
        if errors and failures.exists():
            say("errors:\n" + failures.read_text()[:3000])
        say(f"goal p95 < {GOAL_P95_MS} ms and 0 errors: "
            + ("MET" if not missed and not errors else f"MISSED ({', '.join(missed) or f'{errors} errors'})"))
        stop(server)
        server = None
        unloaded_profile(env, fixture)
        return 1 if errors else 0
    finally:
        if server is not None:
            stop(server)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 - Django was not set up
            pass
        database.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
