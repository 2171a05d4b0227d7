"""A throw-away Tremplin installation for tests that run the platform's real processes (manage.py, the
`tremplin` command, gunicorn, qcluster): a data directory of its own and a database of its own — a SQLite file
in that directory or, when the suite runs on PostgreSQL (DATABASE_URL set), a fresh database on the same server,
dropped by `drop()`. Its state is read with plain DB-API connections, never through the test's Django.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

REPO_DIR = Path(__file__).resolve().parents[2]
MANAGE = str(REPO_DIR / "manage.py")
BIN_DIR = Path(sys.executable).parent
# Variables of the test run that must not leak into the installation's processes.
HOST = "tremplin.example.org"  # the production installations' ALLOWED_HOSTS
PASSWORD = "Grenoble-Velo-Matin-42"
INNOVATOR_EMAIL = "inno@example.org"
CREATE_INNOVATOR = (
    "from allauth.account.models import EmailAddress; from tremplin.web.accounts.models import Organisation, "
    "User; from tremplin.web.accounts.services import membership_create; "
    f"u = User.objects.create_user(username='inno', email='{INNOVATOR_EMAIL}', password='{PASSWORD}'); "
    "EmailAddress.objects.create(user=u, email=u.email, verified=True, primary=True); "
    "membership_create(user=u, organisation=Organisation.objects.create(name='Kelvin Santé', "
    "sector='private_for_profit', kind='startup'), role='innovator'); print(u.pk)")
TEST_ONLY_VARIABLES = {"DJANGO_SETTINGS_MODULE", "TREMPLIN_TESTING", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def suite_postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else ""


class Installation:
    """Data directory `root/<name>`, its own database, and the environment its processes run with."""

    def __init__(self, root: Path, name: str = "site", *, database: str = "auto", **env: str):
        self.root = root
        self.name = name
        self.data_dir = root / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
        self.env.update({"TREMPLIN_DATA_DIR": str(self.data_dir), "DEBUG": "1", "PYTHONUNBUFFERED": "1", **env})
        self.sqlite_path = self.data_dir / "tremplin.sqlite3"
        self.pg_admin_url = suite_postgres_url() if database == "auto" else ""
        self.pg_url = None
        if self.pg_admin_url:
            self._create_pg_database()

    @property
    def vendor(self) -> str:
        return "postgresql" if self.pg_url else "sqlite"

    def _create_pg_database(self) -> None:
        import psycopg

        self.pg_name = f"tremplin_{self.name}_{uuid.uuid4().hex[:10]}".lower()
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.pg_name}"')
        parts = urlsplit(self.pg_admin_url)
        self.pg_url = urlunsplit(parts._replace(path=f"/{self.pg_name}"))
        self.env["DATABASE_URL"] = self.pg_url

    def drop(self) -> None:
        if self.pg_url is None:
            return
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    # --- processes ---

    def run(self, *command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(list(command), env=self.env, cwd=REPO_DIR, capture_output=True, text=True,
                              timeout=timeout)

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = self.run(sys.executable, MANAGE, *args, timeout=timeout)
        assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def shell(self, code: str, timeout: float = 300) -> str:
        """Run Python in `manage.py shell`; returns the last line it printed."""
        lines = self.manage("shell", "-c", code, timeout=timeout).strip().splitlines()
        return lines[-1] if lines else ""

    def tremplin(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """The installed `tremplin` command (the console script of this virtual environment)."""
        script = BIN_DIR / "tremplin"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "tremplin.cli"]
        return self.run(*command, *args, timeout=timeout)

    def popen(self, *command: str, log: Path) -> subprocess.Popen:
        """A long-running process in its own process group (killed whole with os.killpg)."""
        with log.open("w") as out:
            return subprocess.Popen(list(command), env=self.env, cwd=REPO_DIR, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def gunicorn(self, port: int, *, log: Path, workers: int = 2, extra: tuple[str, ...] = ()) -> subprocess.Popen:
        return self.popen(str(BIN_DIR / "gunicorn"), "tremplin.web.wsgi", "--bind", f"127.0.0.1:{port}",
                          "--workers", str(workers), "--access-logfile", "-", *extra, log=log)

    @contextlib.contextmanager
    def served(self, *, workers: int = 2):
        """gunicorn serving this installation on a free loopback port, stopped at the end; yields a Browser."""
        port = free_port()
        log = self.root / f"gunicorn-{self.name}-{port}.log"
        server = self.gunicorn(port, log=log, workers=workers, extra=("--forwarded-allow-ips", "127.0.0.1"))
        browser = Browser(port)
        browser.server, browser.log = server, log
        try:
            browser.wait_up()
            yield browser
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)

    # --- reading its state ---

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.pg_url is not None:
            import psycopg

            with psycopg.connect(self.pg_url) as conn:
                return conn.execute(sql, params).fetchall()
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def table_names(self) -> list[str]:
        if self.pg_url is not None:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        else:
            if not self.sqlite_path.exists():
                return []
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
        return [r[0] for r in self.query(sql)]

    def everything(self) -> dict[str, list]:
        """Every table's rows (sorted), the schema (tables, indexes, triggers) and, on PostgreSQL, every
        sequence's position: what a faithful copy of the database must reproduce exactly."""
        state = {}
        for table in self.table_names():
            rows = self.query('SELECT * FROM "{}"'.format(table.replace('"', '""')))
            state[f"table {table}"] = sorted(rows, key=repr)
        if self.pg_url is not None:
            state["sequences"] = self.query("SELECT sequencename, last_value FROM pg_sequences "
                                            "WHERE schemaname = current_schema() ORDER BY 1")
            # A dump replayed re-parses partial-index predicates, which PostgreSQL then prints with other (equivalent)
            # casts and parentheses: `ARRAY['a'::varchar, ...]::text[]` comes back as `ARRAY['a'::varchar::text, ...]`.
            state["indexes"] = [(name, _without_casts(definition)) for name, definition in self.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1")]
            state["triggers"] = self.query("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                                           "WHERE NOT tgisinternal ORDER BY 1")
            state["functions"] = self.query("SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN "
                                            "pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = "
                                            "current_schema() ORDER BY 1")
        else:
            state["schema"] = self.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY 1, 2")
        return state

    def files(self, *, skip: tuple[str, ...] = ("tremplin.sqlite3", "secret_key", "static")) -> dict[str, str]:
        """SHA-256 of every file of the data directory (its path relative to it), the database files excepted."""
        found = {}
        for path in sorted(self.data_dir.rglob("*")):
            relative = path.relative_to(self.data_dir).as_posix()
            if relative.split("/")[0].startswith(skip) or not path.is_file():
                continue
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found


def _without_casts(sql: str) -> str:
    return re.sub(r"::[a-z ]+(\[\])?|[()]", "", sql)


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    """Poll `predicate` until it returns a true value (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def differences(expected: dict, actual: dict, *, limit: int = 5) -> list[str]:
    """What differs between two `everything()` / `files()` states, readably (empty when they are equal)."""
    found = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            found.append(f"{key}: missing")
        elif key not in expected:
            found.append(f"{key}: unexpected")
        elif expected[key] != actual[key]:
            if isinstance(expected[key], list):
                lost = [r for r in expected[key] if r not in actual[key]][:2]
                extra = [r for r in actual[key] if r not in expected[key]][:2]
                found.append(f"{key}: {len(expected[key])} -> {len(actual[key])} rows; lost {lost}; extra {extra}")
            else:
                found.append(f"{key}: {expected[key]!r} -> {actual[key]!r}")
        if len(found) >= limit:
            break
    return found


def production_installation(root: Path, name: str = "production", **env: str) -> Installation:
    """An installation with the production settings (DEBUG off; tests/production_settings.py), behind a TLS proxy."""
    return Installation(root, name, DEBUG="0", DJANGO_SETTINGS_MODULE="tests.production_settings",
                        SECRET_KEY="p" * 20 + "-x8#Kq2!" * 8, ALLOWED_HOSTS=HOST, BEHIND_PROXY="1", **env)


class Browser:
    """HTTP to a server as the TLS proxy forwards it (Host, X-Forwarded-Proto: https), keeping the cookies by
    hand (they are Secure: an HTTP client library would not send them over plain HTTP)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.set_cookies: dict[str, str] = {}
        self.server = self.log = None

    def request(self, method: str, path: str, *, body: str | bytes = "", headers: dict | None = None,
                https: bool = True, timeout: float = 60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        sent = {"Host": HOST, **({"X-Forwarded-Proto": "https"} if https else {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST":
            sent.update({"Referer": f"https://{HOST}{path}", "Origin": f"https://{HOST}"})
        sent.update(headers or {})
        try:
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            response.text = response.read().decode(errors="replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.set_cookies[name] = header
                self.cookies[name] = morsel.value
        return response

    def csrf_token(self, path: str) -> str:
        page = self.request("GET", path)
        assert page.status == 200, f"GET {path}: {page.status}"
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def post_form(self, path: str, fields: list[tuple[str, str]], **kwargs):
        """GET the form's page for its CSRF token, then POST the fields to it."""
        body = urlencode([("csrfmiddlewaretoken", self.csrf_token(path)), *fields])
        return self.request("POST", path, body=body, **kwargs)

    def login(self, email: str, password: str) -> None:
        response = self.post_form("/compte/login/", [("login", email), ("password", password)])
        assert response.status == 302, response.text[:500]

    def wait_up(self, timeout: float = 60) -> None:
        def up():
            try:
                return self.request("GET", "/", timeout=5).status in {200, 302, 503}
            except OSError:
                assert self.server is None or self.server.poll() is None, self.log_text()
                return False

        wait_until(up, timeout=timeout, what=f"the server on port {self.port}\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text()[-3000:] if self.log and self.log.exists() else ""
