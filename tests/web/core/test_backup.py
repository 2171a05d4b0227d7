"""`tremplin backup` / `tremplin restore`, run as the real command on real installations (SQLite, or PostgreSQL
when the suite runs there: tests/run_on_postgres.py), compared table by table and file by file.

The source installation holds the demo data (a smaller generated care dataset), a proposal attachment, a binary
file, a finished background job, audit entries and sessions. Each comparison reads both databases with plain DB-API
connections: every table's rows, the schema (indexes, triggers, functions) and, on PostgreSQL, the sequences.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile

import pytest

from tests.web.installation import Installation, differences

SEED = """
import os
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from tremplin.web.evaluations import demo
demo.DEMO_OPTIONS.update(persons=1500, territories=8, years=2)  # the demo, with a smaller care dataset
call_command("demo_setup", verbosity=0)
from tremplin.web.calls.models import Attachment, Proposal
proposal = Proposal.objects.order_by("pk").first()
pdf = b"%PDF-1.4\\n" + os.urandom(50_000) + b"\\n%%EOF\\n"
Attachment.objects.create(proposal=proposal, file=ContentFile(pdf, name="annexe.pdf"),
                          original_name="Annexe budgétaire.pdf", size=len(pdf))
default_storage.save("exports/binary.bin", ContentFile(bytes(range(256)) * 1000))
from tremplin.web.jobs.services import job_enqueue
job_enqueue(kind="demo.count", params={"steps": 3, "delay": 0}, sync=True)
from django.test import Client
from tremplin.web.accounts.models import User
Client().force_login(User.objects.get(email="manager@demo.tremplin.org"))  # a session row
print("seeded")
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    site = Installation(tmp_path_factory.mktemp("backup"), "source")
    try:
        site.manage("migrate", "--no-input", "-v", "0")
        assert site.shell(SEED) == "seeded"
        yield site
    finally:
        site.drop()


@pytest.fixture(scope="module")
def archive(source):
    path = source.root / "tremplin-backup.tar.gz"
    done = source.tremplin("backup", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    return path


@pytest.fixture
def target(tmp_path):
    site = Installation(tmp_path, "target")
    yield site
    site.drop()


def restore(site, archive, *args):
    return site.tremplin("restore", str(archive), *args)


def test_the_source_is_a_real_installation(source):
    """The comparison below means something: the source holds data in every kind of store."""
    counts = dict(source.query("SELECT 'users', COUNT(*) FROM accounts_user UNION ALL "
                               "SELECT 'audit', COUNT(*) FROM core_auditlog UNION ALL "
                               "SELECT 'jobs', COUNT(*) FROM jobs_job UNION ALL "
                               "SELECT 'sessions', COUNT(*) FROM django_session UNION ALL "
                               "SELECT 'datasets', COUNT(*) FROM evaluations_dataset"))
    assert counts["users"] >= 20 and counts["audit"] > 100 and counts["jobs"] >= 2
    assert counts["sessions"] == 1 and counts["datasets"] == 1
    files = source.files()
    assert any(f.startswith("private/calls/") and f.endswith(".pdf") for f in files)
    assert any(f.startswith("datasets/") and f.endswith("care_events.parquet") for f in files)
    assert "private/exports/binary.bin" in files


def test_manifest_records_versions_migrations_counts_and_checksums(source, archive):
    import hashlib

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
        for name, entry in manifest["files"].items():
            data = tar.extractfile(name).read()
            assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"], name
    assert names[-1] == "manifest.json"
    assert manifest["format"] == "tremplin-backup" and manifest["format_version"] == 1
    assert manifest["database"]["engine"] == source.vendor
    assert set(manifest["versions"]) == {"tremplin", "django", "python"}
    assert [list(r) for r in source.query("SELECT app, name FROM django_migrations ORDER BY id")] \
        == manifest["migrations"]
    assert manifest["tables"] == {t: source.query(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in source.table_names()}
    stored = {f"data/{name}" for name in source.files()}
    assert {m for m in manifest["files"] if m.startswith("data/")} == stored
    assert not any("secret_key" in n or n.endswith("tremplin.sqlite3") and n.startswith("data/") for n in names)
    assert (archive.stat().st_mode & 0o077) == 0, "the archive must be readable by its owner only"


def test_round_trip_restores_every_row_and_every_file(source, archive, target):
    done = restore(target, archive)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "counts checked" in done.stdout
    assert not differences(source.everything(), target.everything())
    assert not differences(source.files(), target.files())
    # The restored platform works: its migrations are all applied and Django reads it.
    assert "[ ]" not in target.manage("showmigrations", "--list")
    assert target.shell("from tremplin.web.calls.models import Attachment; a = Attachment.objects.get(); "
                        "print(a.file.read()[:8])") == "b'%PDF-1.4'"


def funding_on_stored_dataset(site) -> dict:
    """`tremplin funding simulate` (the CLI, not the platform) on the dataset the platform stores."""
    (storage,) = site.query("SELECT storage FROM evaluations_dataset")
    done = site.tremplin("funding", "simulate", str(site.data_dir / "datasets" / storage[0]), "--model", "ipep",
                         "--effect", "-0.12", "--format", "json", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["population"].pop("source") == str(site.data_dir / "datasets" / storage[0])  # differs
    return result


def test_restored_datasets_serve_the_command_line_as_the_originals(source, archive, target):
    """The care data restored is usable outside the platform too: `tremplin funding` gives the same answer on the
    restored copy of the platform's dataset as on the original."""
    assert restore(target, archive).returncode == 0
    original, restored = funding_on_stored_dataset(source), funding_on_stored_dataset(target)
    assert original["population"]["persons"] > 1000 and original["provider_revenue"]["total"] > 0
    assert restored == original


def test_restore_refuses_an_installation_that_holds_data(source, archive, target):
    target.manage("migrate", "--no-input", "-v", "0")
    fresh = target.everything()
    done = restore(target, archive)  # a migrated but empty installation is accepted
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.everything() == source.everything() != fresh

    target.shell("from tremplin.web.accounts.models import Organisation; "
                 "Organisation.objects.create(name='Arrivée après la sauvegarde', sector='public', kind='hospital')")
    (target.data_dir / "private" / "late.txt").write_text("written after the backup")
    before, files_before = target.everything(), target.files()
    done = restore(target, archive)
    assert done.returncode == 2
    assert "not empty" in done.stderr and "--force" in done.stderr
    assert target.everything() == before and target.files() == files_before, "a refused restore changed something"


def test_force_replaces_everything_and_the_audit_log_stays_append_only(source, archive, target):
    assert restore(target, archive).returncode == 0
    # Changes after the restore, audited (so the append-only log has entries the backup lacks).
    target.shell("from tremplin.web.accounts.models import Organisation; o = Organisation.objects.first(); "
                 "o.name = 'Renommée'; o.save()")
    (target.data_dir / "datasets" / "stray.parquet").write_bytes(b"not in the backup")
    assert target.everything() != source.everything()

    done = restore(target, archive, "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not differences(source.everything(), target.everything())
    assert not differences(source.files(), target.files())
    refused = target.run(sys.executable, "-c", (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tremplin.web.settings'); "
        "django.setup(); from django.db import connection\n"
        "try:\n"
        "    with connection.cursor() as c: c.execute(\"UPDATE core_auditlog SET object_repr = 'changed'\")\n"
        "except Exception as exc: print('refused:', exc)\n"
        "else: print('updated')"))
    assert "refused:" in refused.stdout and "append-only" in refused.stdout, refused.stdout + refused.stderr


def test_a_damaged_archive_is_refused_before_anything_changes(source, archive, target, tmp_path):
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    damaged = tmp_path / "damaged.tar"
    victim = next(name for name in manifest["files"] if name.endswith(".pdf"))
    with tarfile.open(damaged, "w") as tar:
        for member, data in members:
            if member.name == victim:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            tar.addfile(member, None if data is None else io.BytesIO(data))
    done = restore(target, damaged)
    assert done.returncode == 2
    assert "checksum" in done.stderr and victim in done.stderr.replace("\n", "")
    assert target.table_names() == []
    assert target.files() == {}


def test_a_backup_of_a_newer_version_is_refused(source, archive, target, tmp_path):
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    newer = tmp_path / "newer.tar"
    with tarfile.open(newer, "w") as tar:
        for member, data in members:
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migrations"].append(["calls", "9999_from_the_future"])
                data = json.dumps(manifest).encode()
                member.size = len(data)
            tar.addfile(member, None if data is None else io.BytesIO(data))
    done = restore(target, newer)
    assert done.returncode == 2
    assert "newer version" in done.stderr and "calls.9999_from_the_future" in done.stderr.replace("\n", "")
    assert target.files() == {}


def test_backup_never_overwrites_an_existing_file_unless_asked(source, tmp_path):
    path = tmp_path / "existing.tar"
    path.write_bytes(b"precious")
    done = source.tremplin("backup", str(path))
    assert done.returncode == 2 and "--overwrite" in done.stderr
    assert path.read_bytes() == b"precious"
    assert source.tremplin("backup", str(path), "--overwrite").returncode == 0
    assert tarfile.is_tarfile(path)
    assert not list(tmp_path.glob(".existing.tar.*")), "no partial file left behind"


def test_tremplin_help_does_not_import_django():
    """The CLI's start-up stays light: Django is imported by the backup commands only when they run."""
    import subprocess

    code = ("import sys; sys.argv = ['tremplin', '--help']\n"
            "import tremplin.cli\n"
            "try:\n    tremplin.cli.app()\nexcept SystemExit:\n    pass\n"
            "print('DJANGO' if 'django' in sys.modules else 'NO-DJANGO')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "backup" in done.stdout and "restore" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "NO-DJANGO"
