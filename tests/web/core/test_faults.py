"""Faults, on real processes: the server killed during a submission, the database going away, the disk filling up
during an import. (The worker killed in the middle of an evaluation: tests/web/jobs/test_worker_kill.py.)

- Server restart: gunicorn (production settings) is killed with SIGKILL at moments spread over a draft proposal's
  request (40 budget lines, each audited); after each restart the proposal is either entirely there (every line,
  its total, its territories, its audit entries) or not at all, and a saved draft and the session survive.
- Database unavailable: SQLite's folder made unreachable, or the PostgreSQL server stopped; pages answer 503 with a
  page that needs no database (French or English), the API a JSON 503, and the same session works again once the
  database is back, without restarting anything.
- Disk full: the datasets folder is a small tmpfs (mounted in a private mount namespace of the import's process,
  so nothing leaks to the machine); the upload's extraction or the import runs out of space: a clear message, no
  dataset left valid, no file left behind, and the same upload succeeds once there is room.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import require
from tests.web.installation import (
    CREATE_INNOVATOR,
    INNOVATOR_EMAIL,
    MANAGE,
    PASSWORD,
    Browser,
    Installation,
    production_installation,
)

# --- the server killed during a submission -----------------------------------------------------------------

LINES = 40
SEED_CALL = """
from tests.web.factories import make_call
from tremplin.web.accounts.models import Territory
call = make_call("open", title="Appel ouvert")
for code in ("T1", "T2"):
    Territory.objects.create(code=code, name=f"Territoire {code}", level="department")
print(call.pk)
"""


def proposal_fields(site, title: str) -> list[tuple[str, str]]:
    (org,) = site.query("SELECT id FROM accounts_organisation WHERE name = 'Kelvin Santé'")
    territories = [str(r[0]) for r in site.query("SELECT id FROM accounts_territory ORDER BY code")]
    fields = [("organisation", str(org[0])), ("title", title), ("summary", "Résumé."), ("description", "Texte."),
              ("evidence_level", "idea"), *[("territories", t) for t in territories],
              ("budget-TOTAL_FORMS", str(LINES)), ("budget-INITIAL_FORMS", "0"),
              ("budget-MIN_NUM_FORMS", "0"), ("budget-MAX_NUM_FORMS", "1000")]
    for i in range(LINES):
        fields += [(f"budget-{i}-label", f"Poste {i}"), (f"budget-{i}-amount", str(100 + i))]
    return fields


def saved_proposal(site, title: str) -> dict | None:
    """The proposal titled `title` as the database holds it, or None."""
    rows = site.query("SELECT id, requested_amount, status FROM calls_proposal WHERE title = %s"
                      % ("%s" if site.pg_url else "?"), (title,))
    if not rows:
        return None
    (pk, amount, status), = rows
    p = "%s" if site.pg_url else "?"
    return {
        "status": status, "amount": float(amount),
        "lines": site.query(f"SELECT COUNT(*), SUM(amount) FROM calls_budgetline WHERE proposal_id = {p}", (pk,))[0],
        "territories": site.query(f"SELECT COUNT(*) FROM calls_proposal_territories WHERE proposal_id = {p}",
                                  (pk,))[0][0],
        "audited": site.query(f"SELECT COUNT(*) FROM core_auditlog WHERE model = 'calls.proposal' AND "
                              f"action = 'create' AND object_pk = {p}", (str(pk),))[0][0],
        "audited_lines": site.query(f"SELECT COUNT(*) FROM core_auditlog WHERE model = 'calls.budgetline' AND "
                                    f"action = 'create' AND CAST(changes AS TEXT) LIKE {p}", (f'%"proposal_id": [null, {pk}]%',))[0][0],
    }


COMPLETE = {"status": "draft", "amount": float(sum(100 + i for i in range(LINES))),
            "lines": (LINES, sum(100 + i for i in range(LINES))), "territories": 2, "audited": 1,
            "audited_lines": LINES}


def normalised(proposal: dict | None) -> dict | None:
    if proposal is None:
        return None
    count, total = proposal["lines"]
    return {**proposal, "lines": (count, float(total or 0) if count else 0)}


@pytest.fixture
def restartable(tmp_path):
    site = production_installation(tmp_path)
    try:
        site.manage("migrate", "--no-input", "-v", "0")
        site.shell(CREATE_INNOVATOR)
        site.call_pk = site.shell(SEED_CALL)
        yield site
    finally:
        site.drop()


def kill_server(browser: Browser) -> None:
    os.killpg(browser.server.pid, signal.SIGKILL)
    browser.server.wait(timeout=30)


def test_a_saved_draft_and_the_session_survive_a_server_crash(restartable):
    site = restartable
    path = f"/appels/{site.call_pk}/proposer/"
    with site.served() as browser:
        browser.login(INNOVATOR_EMAIL, PASSWORD)
        response = browser.post_form(path, proposal_fields(site, "Brouillon avant la panne"))
        assert response.status == 302, response.text[:800]
        detail = response.headers["Location"]
        cookies = dict(browser.cookies)
        kill_server(browser)
    assert normalised(saved_proposal(site, "Brouillon avant la panne")) == {**COMPLETE}
    with site.served() as browser:
        browser.cookies = cookies  # the same browser, after the restart: still signed in
        page = browser.request("GET", detail)
        assert page.status == 200 and "Brouillon avant la panne" in page.text
        assert "Poste 39" in page.text


def test_a_submission_interrupted_by_a_server_crash_is_saved_entirely_or_not_at_all(restartable):
    site = restartable
    path = f"/appels/{site.call_pk}/proposer/"
    with site.served(workers=1) as browser:
        browser.login(INNOVATOR_EMAIL, PASSWORD)
        cookies = dict(browser.cookies)
        token = browser.csrf_token(path)
        start = time.monotonic()
        response = browser.request("POST", path, body=urlencode([("csrfmiddlewaretoken", token),
                                                                  *proposal_fields(site, "Référence")]))
        duration = time.monotonic() - start
        assert response.status == 302
    assert normalised(saved_proposal(site, "Référence")) == COMPLETE

    outcomes = []
    # 0: the body half sent; then kills spread from the first byte to well after the request's usual duration.
    delays = [None, *[duration * k / 8 for k in range(11)]]
    for attempt, delay in enumerate(delays):
        title = f"Tentative {attempt}"
        with site.served(workers=1) as browser:
            browser.cookies = dict(cookies)
            token = browser.csrf_token(path)
            body = urlencode([("csrfmiddlewaretoken", token), *proposal_fields(site, title)]).encode()
            if delay is None:
                send_half_and_crash(browser, path, body)
            else:
                thread = threading.Thread(target=post_ignoring_errors, args=(browser, path, body), daemon=True)
                thread.start()
                time.sleep(delay)
                kill_server(browser)
                thread.join(timeout=30)
        proposal = normalised(saved_proposal(site, title))
        assert proposal in (None, COMPLETE), f"attempt {attempt} (killed after {delay} s) left {proposal}"
        outcomes.append(proposal is not None)
    # The kills did land on both sides of the commit: some requests were lost whole, some saved whole.
    assert outcomes[0] is False
    assert not all(outcomes) and any(outcomes), outcomes
    with site.served() as browser:  # and the platform works after all these crashes
        browser.cookies = dict(cookies)
        assert browser.request("GET", "/appels/mes-propositions/").status == 200


def post_ignoring_errors(browser: Browser, path: str, body: bytes) -> None:
    try:
        browser.request("POST", path, body=body, timeout=30)
    except (OSError, http_errors()):
        pass


def http_errors():
    import http.client

    return http.client.HTTPException


def send_half_and_crash(browser: Browser, path: str, body: bytes) -> None:
    """Headers and half the body, then the server dies before the rest arrives."""
    from tests.web.installation import HOST

    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nX-Forwarded-Proto: https\r\nCookie: {cookie}\r\n"
            f"Origin: https://{HOST}\r\nReferer: https://{HOST}{path}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", browser.port), timeout=10) as conn:
        conn.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)
        kill_server(browser)


# --- the database unavailable ------------------------------------------------------------------------------


class SqliteOutage:
    """The SQLite file lives in a folder of its own; the outage makes that folder unreachable."""

    def __init__(self, tmp_path: Path):
        self.folder = tmp_path / "db"
        self.folder.mkdir()
        self.url = f"sqlite:///{self.folder / 'tremplin.sqlite3'}"

    def down(self) -> None:
        self.folder.rename(self.folder.with_name("db-unreachable"))

    def up(self) -> None:
        self.folder.with_name("db-unreachable").rename(self.folder)

    def close(self) -> None:
        pass


class PostgresOutage:
    """A PostgreSQL server of this test's own (tests/run_on_postgres.py's), stopped and started again."""

    def __init__(self, tmp_path: Path):
        from tests.run_on_postgres import LocalServer, find_bin_dir

        bin_dir = find_bin_dir()
        require(bin_dir is not None, "PostgreSQL is not installed (initdb/pg_ctl not found)")
        self.server = LocalServer(bin_dir)
        self.url = self.server.start()

    def down(self) -> None:
        self.server.stop_server()

    def up(self) -> None:
        self.server.start_server()

    def close(self) -> None:
        self.server.stop()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_database_unavailable_gives_a_clear_page_and_the_platform_recovers(tmp_path, engine):
    outage = (SqliteOutage if engine == "sqlite" else PostgresOutage)(tmp_path)
    try:
        site = production_installation(tmp_path, database="none", DATABASE_URL=outage.url)
        site.manage("migrate", "--no-input", "-v", "0")
        site.shell(CREATE_INNOVATOR)
        with site.served() as browser:
            browser.login(INNOVATOR_EMAIL, PASSWORD)
            assert browser.request("GET", "/tableau-de-bord/").status == 200
            outage.down()
            page = browser.request("GET", "/tableau-de-bord/")
            assert page.status == 503, page.text[:500]
            assert page.headers["Retry-After"] == "30" and page.headers["Cache-Control"] == "no-store"
            assert "Service momentanément indisponible" in page.text
            assert "Rien de ce que vous aviez" in page.text
            for leak in ("Traceback", "OperationalError", "sqlite", "psycopg", str(tmp_path)):
                assert leak not in page.text, leak
            assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
            english = browser.request("GET", "/tableau-de-bord/", headers={"Accept-Language": "en"})
            assert english.status == 503 and "Service temporarily unavailable" in english.text
            assert '<html lang="en">' in english.text
            api = browser.request("GET", "/api/v1/organisations/")
            assert api.status == 503 and api.headers["Content-Type"] == "application/json"
            assert json.loads(api.text)["detail"].startswith("Service momentanément indisponible")
            assert browser.server.poll() is None, "the server died with its database"

            outage.up()
            page = browser.request("GET", "/tableau-de-bord/")  # the same session, nothing restarted
            assert page.status == 200, page.text[:500]
            assert browser.request("GET", "/api/v1/organisations/").status == 200
    finally:
        outage.close()


# --- the disk full during an import ------------------------------------------------------------------------

IMPORT = """
import json
from pathlib import Path
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from tremplin.web.accounts.models import User
from tremplin.web.evaluations.models import Dataset
from tremplin.web.evaluations.services import dataset_register
user = User.objects.get(email="{email}")
before = set(Dataset.objects.values_list("pk", flat=True))
outcome = {{"refused": None}}
try:
    dataset_register(name="{name}", user=user, upload=SimpleUploadedFile("region.zip", Path("{zip}").read_bytes()),
                     sync=True)
except ValidationError as exc:
    outcome["refused"] = exc.messages
outcome["datasets"] = [{{"status": d.status, "failure": (d.report or {{}}).get("failure"), "storage": d.storage}}
                       for d in Dataset.objects.exclude(pk__in=before)]
root = Path(settings.DATASETS_DIR)
outcome["files"] = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
outcome["stored_bytes"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
print(json.dumps(outcome))
"""


def region_zip(tmp_path: Path) -> tuple[Path, int]:
    from tremplin.engine.generator import generate_region

    region = tmp_path / "region"
    generate_region(region, persons=1500, territories=8, years=2, seed=3)
    archive = tmp_path / "region.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(region.rglob("*")):
            z.write(path, path.relative_to(region).as_posix())
    return archive, sum(p.stat().st_size for p in region.rglob("*") if p.is_file())


def import_with_room(site: Installation, archive: Path, name: str, *, room: int | None) -> dict:
    """Register the upload (validated at once) with `room` bytes of disk for the datasets (None: no limit)."""
    code = IMPORT.format(email=INNOVATOR_EMAIL, name=name, zip=archive)
    command = [sys.executable, MANAGE, "shell", "-c", code]
    datasets = site.data_dir / "datasets"
    datasets.mkdir(exist_ok=True)
    if room is not None:
        mount = f"mount -t tmpfs -o size={room} tremplin-full {datasets} && exec \"$@\""
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh", *command]
    done = site.run(*command)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_disk_full_during_an_import_leaves_no_partial_dataset(tmp_path):
    require(os.geteuid() == 0 and shutil.which("unshare") is not None,
            "simulating a full disk mounts a small tmpfs in a private mount namespace: needs root and unshare")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs -o size=64k probe {tmp_path}"], capture_output=True, text=True)
    require(probe.returncode == 0, f"cannot mount a tmpfs here: {probe.stderr.strip()}")
    site = Installation(tmp_path, "site")
    try:
        site.manage("migrate", "--no-input", "-v", "0")
        site.shell(CREATE_INNOVATOR)
        archive, unzipped = region_zip(tmp_path)

        # Room for less than the extracted upload: refused at once, with a clear message; nothing recorded.
        outcome = import_with_room(site, archive, "trop petit", room=unzipped // 3)
        assert outcome["refused"] and "Espace disque insuffisant" in outcome["refused"][0], outcome
        assert outcome["datasets"] == [] and outcome["files"] == [], outcome

        # Room for the extracted upload but not for the stored copy as well: the import runs out of space.
        outcome = import_with_room(site, archive, "à moitié", room=unzipped + unzipped // 2)
        assert outcome["refused"] is None
        (dataset,) = outcome["datasets"]
        assert dataset["status"] == "failed" and dataset["storage"] == "", outcome
        assert dataset["failure"].startswith("Espace disque insuffisant"), dataset
        assert outcome["files"] == [], f"partial files left: {outcome['files']}"

        # With room again, the same upload is imported whole: nothing left over was in the way.
        outcome = import_with_room(site, archive, "avec de la place", room=None)
        (dataset,) = outcome["datasets"]
        assert dataset["status"] == "valid", outcome
        assert all(f.startswith(dataset["storage"] + "/") for f in outcome["files"]), outcome["files"]
        assert f"{dataset['storage']}/care_events.parquet" in outcome["files"]
        assert site.query("SELECT COUNT(*) FROM evaluations_dataset WHERE status = 'valid'") == [(1,)]
    finally:
        site.drop()


# --- the error view itself -----------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("path", "error", "status"), [
    ("/tableau-de-bord/", "database", 503), ("/api/v1/organisations/", "database", 503),
    ("/tableau-de-bord/", "bug", 500)])
def test_error_view_needs_no_database(rf, django_assert_num_queries, path, error, status):
    from django.db import OperationalError

    from tremplin.web.core.errors import server_error

    request = rf.get(path)
    with django_assert_num_queries(0):
        try:
            if error == "database":
                try:
                    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
                except OperationalError as exc:
                    raise RuntimeError("wrapped by a library") from exc
            raise ValueError("a bug")
        except Exception:
            response = server_error(request)
    assert response.status_code == status
    assert ("Retry-After" in response) is (status == 503)
    assert "unsafe-inline" not in response["Content-Security-Policy"] and response["X-Frame-Options"] == "DENY"
    body = response.content.decode()
    assert "Connection refused" not in body and "a bug" not in body
    if path.startswith("/api/"):
        assert json.loads(body)["detail"].startswith("Service momentanément indisponible")
    else:
        assert ("Service momentanément indisponible" in body) is (status == 503)
