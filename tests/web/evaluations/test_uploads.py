"""Hostile and damaged care-data uploads (issue 12, items 8, 9 and 12), replayed through the pages.

Each refusal is a clear form error naming the member, never a 500; the files on disk under the datasets
directory are counted before and after: a refused, invalid, failed or cancelled upload leaves none behind.
No page, job error or API answer carries a server path.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from tests.web.conftest import login_mfa_verified
from tests.web.upload_helpers import multipart_post
from tremplin.web.evaluations import services
from tremplin.web.evaluations.models import Dataset, DatasetStatus
from tremplin.web.jobs.models import Job, JobStatus
from tremplin.web.jobs.services import JobCancelled, job_run

pytestmark = pytest.mark.django_db

TABLES = ("territories", "persons", "observation_periods", "care_events")


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def upload_tmp(settings, tmp_path):
    """Django's temporary upload files go here, so that they are counted too."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    return tmp_path / "upload-tmp"


@pytest.fixture
def on_disk(datasets_dir, upload_tmp):
    """The files under the datasets directory and the upload temporary directory, as a callable."""
    return lambda: _files(datasets_dir) + _files(upload_tmp)


def _damaged(parquet: bytes) -> bytes:
    """The file with its data pages corrupted and its footer intact (the schema reads, the data does not)."""
    data = bytearray(parquet)
    footer = len(data) - 8 - struct.unpack_from("<I", data, len(data) - 8)[0]
    for i in range(64, footer, 13):
        data[i] ^= 0x5A
    return bytes(data)


def _region_zip(small_region: Path, *, damage: str | None = None, folder: str = "data") -> bytes:
    """A zip of the small region's tables under `folder/`; `damage` names a table whose Parquet pages are
    corrupted (its footer, hence its schema, still reads: only reading its data fails, as on a bad disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in TABLES:
            data = (small_region / f"{name}.parquet").read_bytes()
            archive.writestr(f"{folder}/{name}.parquet", _damaged(data) if name == damage else data)
    return buffer.getvalue()


def _post_dataset(client, archive: bytes, *, name: str = "donnees.zip"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("evaluations:dataset-create"), {
        "name": "Dépôt", "format": "ours", "upload": SimpleUploadedFile(name, archive, "application/zip")})


def _form_errors(response) -> str:
    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", "", m) for m in re.findall(r'role="alert">(.*?)</(?:div|p)>', html, re.S))


# --- Item 8: damaged archives and archives that lie ----------------------------------------------------------


def _patch_sizes(archive: bytes, member: str, declared: int) -> bytes:
    """The same zip with `member`'s uncompressed size set to `declared` in its local and central headers."""
    data = bytearray(archive)
    # (signature, offset of the name length, offset of the name, offset of the uncompressed size)
    for signature, length_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        header = data.find(signature)
        while header >= 0:
            name_length = struct.unpack_from("<H", data, header + length_at)[0]
            if data[header + name_at:header + name_at + name_length] == member.encode():
                struct.pack_into("<I", data, header + size_at, declared)
            header = data.find(signature, header + 4)
    return bytes(data)


def _zip_of(members: dict[str, bytes], *, method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_with_a_damaged_member_is_refused_naming_it_and_leaves_nothing(client, evaluator, small_region,
                                                                             on_disk):
    archive = bytearray(_region_zip(small_region))
    start = archive.find(b"data/care_events.parquet") + len("data/care_events.parquet")
    for i in range(start + 200, start + 4000, 7):  # inside the member's compressed bytes
        archive[i] ^= 0xFF
    login_mfa_verified(client, evaluator)
    before = on_disk()
    response = _post_dataset(client, bytes(archive))
    assert response.status_code == 200
    assert "Archive endommagée : data/care_events.parquet" in _form_errors(response)
    assert not Dataset.objects.exists() and on_disk() == before


def test_a_zip_whose_header_lies_about_a_member_size_is_refused(client, evaluator, settings, on_disk):
    """Declared 1 KB, really 3 MB (the probe's 302 MB, scaled down): the real bytes are what is counted."""
    settings.DATASET_UNZIPPED_MAX_BYTES = 1024 * 1024
    archive = _patch_sizes(_zip_of({"data/persons.csv": b"0" * (3 * 1024 * 1024)}), "data/persons.csv", 1024)
    assert zipfile.ZipFile(io.BytesIO(archive)).getinfo("data/persons.csv").file_size == 1024
    login_mfa_verified(client, evaluator)
    before = on_disk()
    response = _post_dataset(client, archive)
    assert response.status_code == 200 and "data/persons.csv" in _form_errors(response)
    assert "endommagée" in _form_errors(response)
    assert not Dataset.objects.exists() and on_disk() == before


def test_an_archive_over_the_unzipped_cap_is_refused_while_streaming(evaluator, settings, on_disk, datasets_dir):
    from django.core.exceptions import ValidationError

    from tremplin.web.evaluations import storage

    settings.DATASET_UNZIPPED_MAX_BYTES = 1024 * 1024
    honest = _zip_of({"a.csv": b"1" * 700_000, "b.csv": b"2" * 700_000})  # declared sizes add up to 1.4 MB
    with pytest.raises(ValidationError, match=r"dépasse 1,0.*Mio \(atteint en extrayant b\.csv\)"):
        services.dataset_register(name="Gros", upload=io.BytesIO(honest), user=evaluator)
    # Declared sizes that add up under the cap do not help: the bytes written are counted as they stream.
    lying = _patch_sizes(_patch_sizes(honest, "a.csv", 10), "b.csv", 10)
    with pytest.raises(ValidationError, match="endommagée"):
        storage.extract_zip(io.BytesIO(lying), datasets_dir / "x", max_bytes=1024 * 1024)
    with pytest.raises(ValidationError, match="dépasse"):  # honest headers, cap reached while copying b.csv
        storage._extract_member(zipfile.ZipFile(io.BytesIO(honest)), zipfile.ZipFile(io.BytesIO(honest)).getinfo(
            "b.csv"), datasets_dir / "b.csv", room=500_000, limit=1024 * 1024)
    (datasets_dir / "b.csv").unlink(missing_ok=True)
    assert not Dataset.objects.exists() and on_disk() == []


def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data/persons.csv", "person_id\n1\n")
        link = zipfile.ZipInfo("data/care_events.csv")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def _encrypted_flag_zip() -> bytes:
    """A member flagged as encrypted (zipfile cannot write one: the flag is set in both headers)."""
    data = bytearray(_zip_of({"data/persons.csv": b"person_id\n1\n"}))
    data[data.find(b"PK\x03\x04") + 6] |= 0x1
    data[data.find(b"PK\x01\x02") + 8] |= 0x1
    return bytes(data)


@pytest.mark.parametrize(("archive", "named"), [
    (_zip_of({"../evil.csv": b"x"}), "../evil.csv"),
    (_zip_of({"/tmp/evil.csv": b"x"}), "/tmp/evil.csv"),
    (_zip_of({"data\\..\\..\\evil.csv": b"x"}), "data\\..\\..\\evil.csv"),
    (_zip_of({"C:/evil.csv": b"x"}), "C:/evil.csv"),
    (_symlink_zip(), "data/care_events.csv"),
    (_encrypted_flag_zip(), "data/persons.csv"),
    (_zip_of({"data/persons.csv": b"x" * 5000}, method=zipfile.ZIP_STORED)[:2000], ""),  # truncated: no central directory
], ids=["parent", "absolute", "backslashes", "drive", "symlink", "encrypted", "truncated"])
def test_hostile_archives_are_refused_with_the_member_named(client, evaluator, archive, named, on_disk, tmp_path):
    login_mfa_verified(client, evaluator)
    before = on_disk()
    response = _post_dataset(client, archive)
    assert response.status_code == 200
    errors = _form_errors(response)
    assert errors and named in errors.replace("&#x27;", "'")
    assert not Dataset.objects.exists() and on_disk() == before
    assert not (tmp_path / "evil.csv").exists() and not (tmp_path.parent / "evil.csv").exists()


# --- Item 9: size limit while streaming, clean-up of every failed or rejected upload ---------------------------


def _csrf_token(client, url: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()).group(1)


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(evaluator, settings, on_disk):
    """The declared length is over the limit: refused when the file starts, the form (and its CSRF token) kept."""
    from django.test import Client

    settings.DATASET_UPLOAD_MAX_BYTES = 256 * 1024
    client = Client(enforce_csrf_checks=True)
    login_mfa_verified(client, evaluator)
    url = reverse("evaluations:dataset-create")
    fields = {"csrfmiddlewaretoken": _csrf_token(client, url), "name": "Trop gros", "format": "ours"}
    before = on_disk()
    response, payload, size = multipart_post(client, url, fields, "upload", "enorme.zip", b"\0" * (4 * 1024 * 1024))
    assert response.status_code == 200  # the form again, not a 403 (CSRF) nor a 413 page
    assert "enorme.zip" in _form_errors(response) and "taille maximale" in _form_errors(response)
    assert payload.bytes_read < 128 * 1024 < size  # the 4 MB were never read
    assert not Dataset.objects.exists() and on_disk() == before


def test_bytes_are_counted_while_they_stream_in(client, evaluator, settings, on_disk):
    """Under the declared-length check (the file is within the multipart margin): stopped by the running count."""
    settings.DATASET_UPLOAD_MAX_BYTES = 256 * 1024
    login_mfa_verified(client, evaluator)
    before = on_disk()
    response, payload, size = multipart_post(client, reverse("evaluations:dataset-create"),
                                              {"name": "Un peu gros", "format": "ours"}, "upload", "gros.zip",
                                              b"\1" * (900 * 1024))
    assert response.status_code == 200 and "gros.zip" in _form_errors(response)
    assert 256 * 1024 < payload.bytes_read < size - 256 * 1024  # read up to the limit (and a chunk), no further
    assert not Dataset.objects.exists() and on_disk() == before


def test_an_upload_under_the_limit_is_accepted(client, evaluator, small_region, settings, datasets_dir, on_disk):
    archive = _region_zip(small_region)
    settings.DATASET_UPLOAD_MAX_BYTES = len(archive) + 1024
    login_mfa_verified(client, evaluator)
    response = _post_dataset(client, archive)
    dataset = Dataset.objects.get()
    assert response.status_code == 302 and dataset.job is not None
    assert job_run(job_id=str(dataset.job_id)) == JobStatus.SUCCEEDED
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.VALID, dataset.report
    # Only the stored Parquet copy is left: the raw upload and every temporary file are gone.
    assert {path.split("/")[0] for path in on_disk()} == {dataset.fingerprint}


def test_an_invalid_upload_leaves_no_file(client, evaluator, small_region, on_disk):
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in TABLES[:3]:  # no care_events: invalid
            archive.writestr(f"data/{name}.parquet", (small_region / f"{name}.parquet").read_bytes())
    assert pq.read_schema(small_region / "persons.parquet")
    before = on_disk()
    dataset = services.dataset_register(name="Incomplet", upload=io.BytesIO(buffer.getvalue()), user=evaluator,
                                        sync=True)
    assert dataset.status == DatasetStatus.INVALID
    assert any("care_events" in e["message"] for e in dataset.report["errors"])
    assert on_disk() == before


def test_a_cancelled_validation_leaves_no_file(evaluator, small_region, on_disk):
    before = on_disk()
    dataset = services.dataset_register(name="Annulé", upload=io.BytesIO(_region_zip(small_region)), user=evaluator)
    assert on_disk() != before  # extracted, waiting for its job

    def progress(fraction, message=""):
        if fraction > 0.2:  # the cancel button was pressed during the validation
            raise JobCancelled

    with pytest.raises(JobCancelled):
        services.dataset_validate(dataset_id=dataset.pk, progress=progress)
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.FAILED and on_disk() == before


def test_the_files_of_a_validation_that_never_ended_go_at_the_next_upload(settings, evaluator, small_region,
                                                                          on_disk):
    """The worker died on every attempt (the job gave up without running its handler): files left behind."""
    before = on_disk()
    stuck = services.dataset_register(name="Bloqué", upload=io.BytesIO(_region_zip(small_region)), user=evaluator)
    Job.objects.filter(pk=stuck.job_id).update(attempts=settings.Q_CLUSTER["max_attempts"])
    assert job_run(job_id=str(stuck.job_id)) == JobStatus.FAILED
    left = on_disk()
    assert left != before
    services.dataset_register(name="Suivant", upload=io.BytesIO(_region_zip(small_region, folder="suivant")),
                              user=evaluator, sync=True)
    stuck.refresh_from_db()
    assert stuck.status == DatasetStatus.FAILED and stuck.report["failure"]
    assert not [path for path in on_disk() if path.startswith(f"incoming/{stuck.pk}/")]


def test_a_folder_of_a_registration_still_running_is_kept(evaluator, small_region, datasets_dir):
    from tremplin.web.evaluations import storage

    waiting = services.dataset_register(name="En attente", upload=io.BytesIO(_region_zip(small_region)),
                                        user=evaluator)
    unknown = storage.incoming_dir(waiting.pk + 1000)  # no dataset row yet (another registration, uncommitted)
    unknown.mkdir(parents=True)
    (unknown / "persons.csv").write_text("person_id\n")
    assert services.dataset_incoming_purge() == []
    assert storage.incoming_dir(waiting.pk).is_dir() and unknown.is_dir()
    from datetime import timedelta

    assert services.dataset_incoming_purge(grace=timedelta(0)) == [str(waiting.pk + 1000)]
    assert storage.incoming_dir(waiting.pk).is_dir()


# --- Item 12: a damaged Parquet file, named inside the upload, no server path anywhere -------------------------


def _server_paths(settings, datasets_dir: Path) -> list[str]:
    return sorted({str(datasets_dir), str(datasets_dir.resolve()), str(settings.DATA_DIR), "/incoming/"})


def _assert_no_server_path(text: str, paths: list[str]) -> None:
    for path in paths:
        assert path not in text, f"{path!r} shown to the user"


def test_a_damaged_parquet_is_named_inside_the_upload_without_a_server_path(client, evaluator, small_region, settings,
                                                                           datasets_dir, on_disk):
    login_mfa_verified(client, evaluator)
    before = on_disk()
    response = _post_dataset(client, _region_zip(small_region, damage="care_events"))
    dataset = Dataset.objects.get()
    assert response.status_code == 302
    job_run(job_id=str(dataset.job_id))
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.INVALID
    assert [e["file"] for e in dataset.report["errors"]] == ["data/care_events.parquet"]
    assert "illisible" in dataset.report["errors"][0]["message"]
    page = client.get(reverse("evaluations:dataset-detail", args=[dataset.pk])).content.decode()
    assert "data/care_events.parquet" in page
    shown = [page, client.get(reverse("jobs:job-detail", args=[dataset.job_id])).content.decode(),
             client.get(f"/api/v1/evaluation-datasets/{dataset.pk}/").content.decode(),
             client.get(f"/api/v1/jobs/{dataset.job_id}/").content.decode(), dataset.job.error]
    for text in shown:
        _assert_no_server_path(text, _server_paths(settings, datasets_dir))
    assert on_disk() == before


def test_a_run_on_a_damaged_stored_file_shows_no_server_path(client, evaluator, plan, dataset, settings, datasets_dir):
    stored = datasets_dir / dataset.storage / "care_events.parquet"
    stored.write_bytes(_damaged(stored.read_bytes()))
    run = services.run_launch(plan=plan, dataset=dataset, user=evaluator, sync=True)
    assert run.status == "failed" and "care_events.parquet" in run.error
    login_mfa_verified(client, evaluator)
    shown = [run.error, run.job.error, client.get(reverse("evaluations:run-detail", args=[run.pk])).content.decode(),
             client.get(f"/api/v1/evaluation-runs/{run.pk}/").content.decode(),
             client.get(f"/api/v1/jobs/{run.job_id}/").content.decode()]
    for text in shown:
        _assert_no_server_path(text, _server_paths(settings, datasets_dir))
