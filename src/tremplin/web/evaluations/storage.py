"""Files of datasets: safe zip extraction, allowed server paths, content fingerprints, storage paths."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SIDE_FILES = ("interventions.parquet", "interventions.csv", "truth.json")
"""Files kept next to the tables: intervention dates (read by the panel builder)."""

MAX_UNZIPPED_BYTES = 2 * 1024**3


def datasets_dir() -> Path:
    return Path(settings.DATASETS_DIR)


def allowed_root() -> Path:
    """Server paths may only be registered under this directory (TREMPLIN_DATA_DIR/datasets)."""
    return datasets_dir().resolve()


def check_server_path(raw: str) -> Path:
    """Resolve a server path and refuse anything outside the allowed root (symlinks resolved)."""
    root = allowed_root()
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = root / path
    path = path.resolve()
    if path != root and root not in path.parents:
        raise ValidationError(_("Le chemin doit se trouver sous %(root)s.") % {"root": root})
    if not path.is_dir():
        raise ValidationError(_("Dossier introuvable : %(path)s.") % {"path": path})
    return path


def incoming_dir(dataset_id: int) -> Path:
    return datasets_dir() / "incoming" / str(dataset_id)


def extract_zip(upload, dest: Path) -> Path:
    """Extract an uploaded zip into `dest` (no absolute paths, no `..`, bounded size)."""
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile as exc:
        raise ValidationError(_("Le fichier n'est pas une archive zip valide.")) from exc
    total = 0
    with archive:
        for info in archive.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValidationError(_("Chemin interdit dans l'archive : %(name)s.") % {"name": info.filename})
            total += info.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise ValidationError(_("L'archive décompressée dépasse 2 Go."))
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive.extractall(dest)
    # A zip of a folder: use the single top-level folder.
    entries = [p for p in dest.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


def fingerprint(directory: Path) -> str:
    """SHA-256 over the relative paths and bytes of every file of `directory`, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def stored_path(storage: str) -> Path:
    return datasets_dir() / storage
