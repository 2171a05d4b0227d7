#!/usr/bin/env python
"""Run the web test suite on a real PostgreSQL server.

- DATABASE_URL=postgres://... (or postgresql://) set: run the suite against that server (its role needs
  CREATEDB, for Django's test database and the worker test's own database).
- Otherwise: start a throw-away server on loopback (initdb in a temporary directory, a free port,
  fsync off), create a role with a password and a database, run the suite, then stop the server and
  remove the directory.
- PostgreSQL not installed: skip with a reason (exit 0), or fail (exit 1) when CI=true.

Usage: python tests/run_on_postgres.py [extra pytest arguments, e.g. -x -k jobs, or test paths]
Exit code: pytest's.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_OS_USER = "postgres"  # initdb refuses to run as root: the server then runs as this user
DB_NAME = DB_USER = "tremplin"


def say(message: str) -> None:
    print(f"[postgres] {message}", flush=True)


def unavailable(reason: str) -> int:
    """PostgreSQL cannot be used: a skip locally, a failure under CI=true."""
    if IN_CI:
        say(f"FAILED: CI=true but PostgreSQL is required: {reason}")
        return 1
    say(f"SKIPPED: the web suite was not run on PostgreSQL: {reason} "
        "(install PostgreSQL, e.g. `apt-get install postgresql`, or set DATABASE_URL=postgres://...)")
    return 0


def pytest_command(extra: list[str]) -> list[str]:
    """pytest on tests/web (no browser tests); test paths given in `extra` replace tests/web."""
    paths = [arg for arg in extra if not arg.startswith("-") and (REPO_DIR / arg.split("::")[0]).exists()]
    return [sys.executable, "-m", "pytest", *([] if paths else ["tests/web"]), "-m", "not e2e",
            "-p", "no:cacheprovider", *extra]


def run_pytest(database_url: str, extra: list[str]) -> int:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = pytest_command(extra)
    say(f"running: {' '.join(command[2:])}")
    return subprocess.call(command, cwd=REPO_DIR, env=env)


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: from PATH, else /usr/lib/postgresql/*/bin."""
    candidates = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
                  reverse=True)
    candidates += [Path(p) for p in versions]
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """A PostgreSQL server in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.tmp = Path(tempfile.mkdtemp(prefix="tremplin-pg-"))
        self.data = self.tmp / "data"
        self.log = self.tmp / "server.log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.started = False

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            if shutil.which("runuser"):
                command = ["runuser", "-u", PG_OS_USER, "--", *command]
            else:
                import shlex

                command = ["su", PG_OS_USER, "-s", "/bin/sh", "-c", shlex.join(command)]
        done = subprocess.run(command, cwd=self.tmp, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def initdb(self) -> None:
        """Create the cluster's data directory (as the postgres OS user when running as root)."""
        if self.as_root:
            pg = pwd.getpwnam(PG_OS_USER)
            os.chown(self.tmp, pg.pw_uid, pg.pw_gid)
        self.tmp.chmod(0o700)
        say(f"initdb in {self.data}" + (f" (as OS user {PG_OS_USER!r}: running as root)" if self.as_root else ""))
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions")

    def start(self) -> str:
        self.initdb()
        say(f"starting the server on 127.0.0.1:{self.port} (fsync off; log: {self.log})")
        self.start_server()
        self._create_role_and_database()
        return f"postgres://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    def start_server(self) -> None:
        """Start (or start again, after `stop_server`) the server on its port."""
        options = (f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        self.started = True

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (tests of an unavailable database start it again)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.started = False

    def _create_role_and_database(self) -> None:
        say(f"creating role {DB_USER!r} (password, CREATEDB) and database {DB_NAME!r}")
        import psycopg
        from psycopg import sql

        # Over the Unix socket in the temporary directory (trust for local connections).
        with psycopg.connect(host=str(self.tmp), port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(DB_USER), sql.Literal(self.password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DB_NAME), sql.Identifier(DB_USER)))

    def stop(self) -> None:
        try:
            if self.started:
                say("stopping the server")
                done = self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
                if done.returncode != 0:
                    say(f"pg_ctl stop failed: {done.stderr.strip()}")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            say(f"removed {self.tmp}")

    def log_tail(self) -> str:
        try:
            return self.log.read_text()[-4000:]
        except OSError:
            return ""


def main(extra: list[str]) -> int:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        say("DATABASE_URL is set: running the web suite against that server")
        return run_pytest(url, extra)
    if url:
        say(f"DATABASE_URL is not a PostgreSQL URL ({url.split(':', 1)[0]}://...): ignored here")

    bin_dir = find_bin_dir()
    if bin_dir is None:
        return unavailable("initdb/pg_ctl/postgres not found on PATH nor in /usr/lib/postgresql/*/bin")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return unavailable("the psycopg package is not installed (pip install -e '.[postgres]')")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            return unavailable(f"running as root and there is no {PG_OS_USER!r} OS user to run initdb as")

    say(f"using PostgreSQL binaries from {bin_dir}")
    server = LocalServer(bin_dir)
    try:
        try:
            url = server.start()
        except Exception as exc:
            say(f"could not start PostgreSQL: {exc}\n{server.log_tail()}")
            return 1
        say(f"DATABASE_URL=postgres://{DB_USER}:***@127.0.0.1:{server.port}/{DB_NAME}")
        code = run_pytest(url, extra)
        say(f"pytest on PostgreSQL exited with code {code}")
        return code
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
