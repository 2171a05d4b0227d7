"""Upload limits on the calls' pages (issue 12, item 9): refused while the body streams in, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.web.upload_helpers import multipart_post
from tremplin.web.calls import services
from tremplin.web.calls.models import Assignment

pytestmark = pytest.mark.django_db


def _files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


@pytest.fixture
def upload_tmp(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def test_an_attachment_over_10_mb_is_refused_before_its_body_is_read(client, scenario, settings, upload_tmp):
    proposal = scenario.propose(submit=False)
    client.force_login(scenario.innovator)
    stored = Path(settings.PRIVATE_MEDIA_DIR)
    before = _files(stored) + _files(upload_tmp)
    pdf = b"%PDF-1.7\n" + b"0" * (services.MAX_ATTACHMENT_BYTES + 2 * 1024 * 1024)
    response, payload, size = multipart_post(client, reverse("calls:attachment-upload", args=[proposal.pk]), {},
                                             "file", "dossier.pdf", pdf, "application/pdf")
    assert response.status_code == 302
    assert any("dossier.pdf" in str(m) and "taille maximale" in str(m) for m in get_messages(response.wsgi_request))
    assert payload.bytes_read < 128 * 1024 < size  # refused on its declared length: the 12 MB were not read
    assert not proposal.attachments.exists() and _files(stored) + _files(upload_tmp) == before


def test_an_attachment_under_the_limit_is_stored(client, scenario):
    from tests.web.calls.test_views import PDF

    proposal = scenario.propose(submit=False)
    client.force_login(scenario.innovator)
    response, payload, size = multipart_post(client, reverse("calls:attachment-upload", args=[proposal.pk]), {},
                                             "file", "dossier.pdf", PDF, "application/pdf")
    assert response.status_code == 302 and payload.bytes_read == size
    assert proposal.attachments.get().size == len(PDF)


def test_a_view_without_its_own_limit_gets_upload_max_bytes(client, scenario, settings, upload_tmp):
    """The reviewers' CSV import declares no limit: UPLOAD_MAX_BYTES applies, with a message."""
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    client.force_login(scenario.manager)
    url = reverse("calls:assignments-csv", args=[scenario.call.pk])
    rows = b"proposal_id,reviewer_email\n" + b"1,nobody@example.org\n" * 100_000  # 2 MB
    response, payload, size = multipart_post(client, url, {}, "file", "affectations.csv", rows)
    assert response.status_code == 200 and "affectations.csv" in response.content.decode()
    assert "taille maximale" in response.content.decode()
    assert payload.bytes_read < size // 4 and not Assignment.objects.exists() and _files(upload_tmp) == []
