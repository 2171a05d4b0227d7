"""Deployment: the systemd units and the nginx example of deploy/ run commands that exist, `check --deploy` is clean
with the documented environment file, and a production server (gunicorn, DEBUG off, behind a TLS proxy) sends the
security headers: CSP without 'unsafe-inline' (styles excepted on /api/docs/ only), HSTS, frame-ancestors,
referrer policy, and no-store on authenticated pages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.installation import (
    BIN_DIR,
    CREATE_INNOVATOR,
    HOST,
    INNOVATOR_EMAIL,
    PASSWORD,
    REPO_DIR,
    Installation,
    production_installation,
)

DEPLOY = REPO_DIR / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.timer"))
INSTALL_DIR, VENV_BIN, ENV_FILE = "/opt/tremplin", "/opt/tremplin/.venv/bin/", "/etc/tremplin/tremplin.env"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}} (keys may repeat; comments and blank lines skipped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path.name}:{number}: not a key=value line: {line}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def local(command_path: str) -> Path:
    """Where a path of the production layout is in this checkout."""
    if command_path.startswith(VENV_BIN):
        return BIN_DIR / command_path[len(VENV_BIN):]
    if command_path.startswith(INSTALL_DIR + "/"):
        return REPO_DIR / command_path[len(INSTALL_DIR) + 1:]
    return Path(command_path)


def env_file() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "tremplin.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


# --- the units ---

def test_every_unit_is_there():
    names = {u.name for u in UNITS}
    assert {"tremplin-web.service", "tremplin-worker.service", "tremplin-backup.service",
            "tremplin-backup.timer"} <= names


@pytest.mark.parametrize("unit", [u for u in UNITS if u.suffix == ".service"], ids=lambda u: u.name)
def test_service_runs_an_existing_command_as_an_unprivileged_user(unit):
    service = parse_unit(unit)["Service"]
    assert service["User"] == ["tremplin"] and service["EnvironmentFile"] == [ENV_FILE]
    assert service["WorkingDirectory"] == [INSTALL_DIR]
    assert service.get("NoNewPrivileges") == ["yes"] and service.get("ProtectSystem") == ["strict"]
    assert "/var/lib/tremplin" in service["ReadWritePaths"][0].split()
    (exec_start,) = service["ExecStart"]
    argv = exec_start.split()
    program = local(argv[0])
    assert program.is_file() and program.stat().st_mode & 0o111, f"{unit.name}: {argv[0]} -> {program} missing"
    if program.name == "gunicorn":
        assert argv[1] == "tremplin.web.wsgi"
        assert argv[argv.index("--bind") + 1].startswith("127.0.0.1:"), "gunicorn must listen on loopback only"
    elif program.name.startswith("python"):
        script = local(argv[1])
        assert script == REPO_DIR / "manage.py" and script.is_file()
        from django.core.management import get_commands

        assert argv[2] in get_commands(), f"{unit.name}: manage.py {argv[2]} is not a command"
    elif program.name == "tremplin":
        done = subprocess.run([str(program), argv[1], "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{unit.name}: `tremplin {argv[1]}` is not a command:\n{done.stderr}"
    else:
        pytest.fail(f"{unit.name}: unexpected program {argv[0]}")


def test_gunicorn_loads_the_platform_with_the_units_command(tmp_path):
    """The web unit's exact command line, with gunicorn's --check-config: the WSGI application is imported."""
    (exec_start,) = parse_unit(DEPLOY / "systemd" / "tremplin-web.service")["Service"]["ExecStart"]
    argv = exec_start.split()
    env = {**Installation(tmp_path, "check", database="sqlite").env, **env_file(), "TREMPLIN_DATA_DIR": str(tmp_path)}
    done = subprocess.run([str(local(argv[0])), *argv[1:], "--check-config"], env=env, cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_timer_starts_the_backup_service():
    timer = parse_unit(DEPLOY / "systemd" / "tremplin-backup.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == ["true"]
    service = parse_unit(DEPLOY / "systemd" / "tremplin-backup.service")["Service"]
    assert service["ExecStart"][0].split()[1] == "backup" and service["UMask"] == ["0077"]


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` on the units with the production paths pointed at this checkout: it fails on a
    command that does not exist and reports unknown or malformed settings."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the units are still checked above)")
    for unit in UNITS:
        text = unit.read_text().replace(VENV_BIN, f"{BIN_DIR}/").replace(INSTALL_DIR, str(REPO_DIR))
        (tmp_path / unit.name).write_text(text.replace(ENV_FILE, str(DEPLOY / "tremplin.env.example")))
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr


def test_postgresql_drop_in_restarts_a_crashed_server():
    drop_in = parse_unit(DEPLOY / "systemd" / "postgresql@.service.d" / "tremplin.conf")
    assert drop_in["Service"]["Restart"] == ["on-failure"] and drop_in["Service"]["RestartSec"] == ["5"]
    assert drop_in["Unit"]["StartLimitBurst"] == ["5"]
    # The platform's units are ordered after PostgreSQL (postgresql.service starts every cluster on Debian).
    for name in ("tremplin-web.service", "tremplin-worker.service", "tremplin-backup.service"):
        assert "postgresql.service" in parse_unit(DEPLOY / "systemd" / name)["Unit"]["After"][0].split(), name


def postgresql_settings() -> dict[str, str]:
    """deploy/postgresql/tremplin.conf as {name: value} (quotes and trailing comments removed)."""
    settings = {}
    for line in (DEPLOY / "postgresql" / "tremplin.conf").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, value = (part.strip() for part in line.split("=", 1))
            settings[name] = value.strip("'")
    return settings


PAGES_8KB = {"shared_buffers", "effective_cache_size"}
UNIT_FACTORS = {"kB": 1, "MB": 1024, "GB": 1024 * 1024, "ms": 1, "s": 1000, "min": 60_000}


def in_base_unit(name: str, value: str) -> str:
    """A setting's value as PostgreSQL reports it: 512MB -> 65536 (8 kB pages), 16MB -> 16384 (kB), 10min ->
    600000 (ms); other values as written."""
    match = re.fullmatch(r"(\d+)\s*(kB|MB|GB|ms|s|min)", value)
    if match is None:
        return value
    amount = int(match.group(1)) * UNIT_FACTORS[match.group(2)]
    return str(amount // 8 if name in PAGES_8KB else amount)


def test_postgresql_settings_are_accepted_by_a_real_server():
    """A real PostgreSQL reads the file from its conf.d (as Debian's postgresql.conf includes it): every name must
    exist and every value parse, or `postgres -C` fails; the values it reports are the file's."""
    from tests.conftest import require
    from tests.run_on_postgres import PG_OS_USER, LocalServer, find_bin_dir

    bin_dir = find_bin_dir()
    require(bin_dir is not None, "PostgreSQL is not installed (initdb, pg_ctl, postgres not found)")
    server = LocalServer(bin_dir)
    try:
        server.initdb()
        conf_d = server.data / "conf.d"
        conf_d.mkdir()
        shutil.copy(DEPLOY / "postgresql" / "tremplin.conf", conf_d / "tremplin.conf")
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_dir = 'conf.d'\n")
        if server.as_root:
            import pwd

            pg = pwd.getpwnam(PG_OS_USER)
            for path in (conf_d, conf_d / "tremplin.conf"):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        expected = postgresql_settings()
        assert {"listen_addresses", "max_connections", "shared_buffers", "fsync"} <= set(expected)
        reported = {}
        for name in expected:
            done = server.run("postgres", "-D", str(server.data), "-C", name, check=False)
            assert done.returncode == 0, f"{name}: {done.stderr.strip()}"
            reported[name] = done.stdout.strip()
        # `postgres -C` reports sizes and durations in the setting's base unit: 8 kB pages, kB or ms.
        assert reported == {name: in_base_unit(name, value) for name, value in expected.items()}
        assert reported["shared_buffers"] == str(512 * 1024 // 8) and reported["max_connections"] == "50"
    finally:
        server.stop()


def test_nginx_example_matches_the_units_and_the_upload_limits():
    from django.conf import settings

    conf = (DEPLOY / "nginx" / "tremplin.conf").read_text()
    (exec_start,) = parse_unit(DEPLOY / "systemd" / "tremplin-web.service")["Service"]["ExecStart"]
    bind = exec_start.split()[exec_start.split().index("--bind") + 1]
    assert re.search(rf"server {re.escape(bind)}\b", conf), f"nginx does not proxy to gunicorn's {bind}"
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf  # BEHIND_PROXY=1 relies on it
    assert "proxy_set_header Host $host;" in conf
    from django.urls import reverse

    general, dataset = (int(n) * 1024 * 1024 for n in re.findall(r"client_max_body_size (\d+)m;", conf))
    assert general > settings.UPLOAD_MAX_BYTES and general < settings.DATASET_UPLOAD_MAX_BYTES
    upload = re.search(r"location = (\S+) \{[^}]*client_max_body_size", conf).group(1)
    assert upload == reverse("evaluations:dataset-create"), "nginx's dataset limit is not on the upload page"
    assert dataset > settings.DATASET_UPLOAD_MAX_BYTES
    assert "return 301 https://" in conf


def test_check_deploy_is_clean_with_the_documented_environment_file(tmp_path):
    env = {**Installation(tmp_path, "check", database="sqlite").env, **env_file(), "TREMPLIN_DATA_DIR": str(tmp_path)}
    assert env["DJANGO_SETTINGS_MODULE"] == "tremplin.web.settings" and env["DEBUG"] == "0"
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=env,
                          cwd=REPO_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


# --- a production server's headers ---

def csp_directives(response) -> dict[str, str]:
    csp = response.headers["Content-Security-Policy"]
    return dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())


def assert_security_headers(response, path: str) -> None:
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload", path
    assert response.headers["Referrer-Policy"] == "same-origin", path
    assert response.headers["X-Frame-Options"] == "DENY", path
    assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", path
    directives = csp_directives(response)
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'", path
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'", path
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"], path
    if path != "/api/docs/":
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"], path


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    site = production_installation(tmp_path_factory.mktemp("production"))
    try:
        site.manage("migrate", "--no-input", "-v", "0")
        site.shell(CREATE_INNOVATOR)
        with site.served() as browser:
            yield browser
    finally:
        site.drop()


def test_production_server_headers_anonymous(production_server):
    for path in ("/", "/compte/login/"):
        response = production_server.request("GET", path)
        assert response.status == 200, path
        assert_security_headers(response, path)
    # plain HTTP is sent to HTTPS; an unknown host is refused
    response = production_server.request("GET", "/", https=False)
    assert response.status == 301 and response.headers["Location"] == f"https://{HOST}/"
    assert production_server.request("GET", "/", headers={"Host": "evil.example.com"}).status == 400


def test_production_server_headers_and_cookies_signed_in(production_server):
    browser = production_server
    browser.login(INNOVATOR_EMAIL, PASSWORD)
    session_cookie = browser.set_cookies["sessionid"].lower()
    assert "secure" in session_cookie and "httponly" in session_cookie and "samesite=lax" in session_cookie
    assert "secure" in browser.set_cookies["csrftoken"].lower()
    for path in ("/tableau-de-bord/", "/organisations/", "/api/v1/organisations/"):
        response = browser.request("GET", path)
        assert response.status == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert_security_headers(response, path)
    docs = browser.request("GET", "/api/docs/")
    assert docs.status == 200
    assert_security_headers(docs, "/api/docs/")
    directives = csp_directives(docs)
    assert "'unsafe-inline'" in directives["style-src"]  # declared for Swagger UI's styles, on this page only
    assert directives["script-src"] == "'self'"
