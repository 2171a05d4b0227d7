"""AGPL-3.0 section 13: every page offers the source of the running platform."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

import tremplin
from tremplin.web.core import source

pytestmark = pytest.mark.django_db
PACKAGE = Path(tremplin.__file__).resolve().parent


def test_anyone_downloads_the_running_source(client) -> None:
    response = client.get(reverse("core:source"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f'filename="tremplin-{tremplin.__version__}-source.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    root = f"tremplin-{tremplin.__version__}/"
    assert all(name.startswith(root) for name in names)
    # the code that runs, byte for byte
    for relative in ("web/core/source.py", "engine/panel.py", "web/templates/base.html"):
        assert archive.read(f"{root}src/tremplin/{relative}") == (PACKAGE / relative).read_bytes()
    assert archive.read(f"{root}LICENSE").startswith(b"GNU AFFERO GENERAL PUBLIC LICENSE")
    assert f"{root}pyproject.toml" in names
    # never byte-code, the data directory, its secret key or database
    assert not [n for n in names if n.endswith((".pyc", ".mo")) or "__pycache__" in n]
    data_dir = str(settings.DATA_DIR)
    assert not [n for n in names if "secret_key" in n or n.endswith((".sqlite3", ".duckdb"))]
    assert all(data_dir not in str(path) for path, _ in source._files())


def test_every_page_links_to_the_source(client) -> None:
    home = client.get("/").content.decode()
    assert f'href="{reverse("core:source")}" data-testid="source-code-link"' in home
    with override_settings(SOURCE_CODE_URL="https://git.example.org/tremplin"):
        home = client.get("/").content.decode()
    assert 'href="https://git.example.org/tremplin" data-testid="source-code-link"' in home
