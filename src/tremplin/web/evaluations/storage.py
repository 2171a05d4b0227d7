"""Files of datasets: safe zip extraction (streamed, sizes counted), allowed server paths, content fingerprints, storage paths."""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

SIDE_FILES = ("interventions.parquet", "interventions.csv", "truth.json")
"""Files kept next to the tables: intervention dates (read by the panel builder)."""

MAX_ZIP_MEMBERS = 10_000
ZIP_CHUNK = 1024 * 1024


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


def incoming_root() -> Path:
    return datasets_dir() / "incoming"


def incoming_dir(dataset_id: int) -> Path:
    return incoming_root() / str(dataset_id)


# An absolute path with at least two components (what is left once the known folders are replaced).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/'\"`<>|]+/)+[^\s/'\"`<>|,;:)]+")
_PATH_TAIL = r"(?:/([^\s'\"`<>|,;:)]*))?"


def _spellings(path: Path) -> list[str]:
    names = {str(path), str(path.resolve())}
    return [n for n in names if n not in {"", "/", "."}]


def public_text(text: str, *, base: Path, label: str) -> str:
    """`text` without any server path: paths under `base` relative to it (`base` itself is `label`), then
    paths under the data directory relative to it, then any other absolute path reduced to its file name."""
    replacements = [(spelling, label) for spelling in _spellings(base)]
    replacements += [(spelling, "") for spelling in _spellings(datasets_dir()) + _spellings(Path(settings.DATA_DIR))]
    for spelling, root_label in sorted(replacements, key=lambda r: len(r[0]), reverse=True):
        text = re.sub(re.escape(spelling) + _PATH_TAIL, lambda m, lab=root_label: m.group(1) or lab, text)
    return _ABSOLUTE_PATH.sub(lambda m: PurePosixPath(m.group()).name, text)


def unreadable_parquet_files(directory: Path) -> list[tuple[str, str]]:
    """(path relative to `directory`, reason) of every Parquet file under it that cannot be read to the end."""
    import pyarrow.parquet as pq

    damaged = []
    for path in sorted(directory.rglob("*.parquet")):
        try:
            for _batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
                pass
        except Exception as exc:  # noqa: BLE001 - any reason a file cannot be read is reported, located
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            damaged.append((path.relative_to(directory).as_posix(), reason))
    return damaged


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The path of a member inside the extraction folder; absolute names, `..`, drives and symlinks refused."""
    raw = info.filename
    name = raw.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or ":" in parts[0] or "\0" in name:
        raise ValidationError(_("Chemin interdit dans l'archive : %(name)s.") % {"name": raw}, code="zip_path")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ValidationError(_("Lien symbolique refusé dans l'archive : %(name)s.") % {"name": raw},
                              code="zip_symlink")
    return parts


def _too_large(name: str, limit: int) -> ValidationError:
    return ValidationError(_("L'archive décompressée dépasse %(limit)s (atteint en extrayant %(name)s).")
                           % {"limit": filesizeformat(limit), "name": name}, code="zip_size")


def _damaged(name: str) -> ValidationError:
    return ValidationError(_("Archive endommagée : %(name)s ne peut pas être décompressé (données corrompues, "
                             "tronquées ou taille annoncée fausse).") % {"name": name}, code="zip_damaged")


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DISK_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "file too large")


def is_disk_full(exc: BaseException | None) -> bool:
    """True when `exc` or what caused it says the disk (or the quota) is full, whichever library wrote the file
    (the system's errno, or Arrow's and DuckDB's messages)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if any(text in str(exc).lower() for text in _DISK_FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_message() -> str:
    return _("Espace disque insuffisant sur le serveur pour enregistrer ce jeu de données : rien n'a été conservé. "
             "Prévenez l'équipe d'exploitation, puis déposez-le à nouveau.")


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, *, room: int, limit: int) -> int:
    """Copy one member to `target` in chunks, counting the bytes really produced (at most `room`)."""
    if info.flag_bits & 0x1:
        raise ValidationError(_("Fichier chiffré dans l'archive : %(name)s (déposez une archive sans mot de "
                                "passe).") % {"name": info.filename}, code="zip_encrypted")
    written = 0
    try:
        with archive.open(info) as source, open(target, "xb") as out:
            while chunk := source.read(ZIP_CHUNK):
                written += len(chunk)
                if written > room:
                    raise _too_large(info.filename, limit)
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise _damaged(info.filename) from exc
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
        raise ValidationError(_("%(name)s figure deux fois dans l'archive (ou à la fois comme dossier et comme "
                                "fichier).") % {"name": info.filename}, code="zip_duplicate") from exc
    if written != info.file_size:  # zipfile stops at the declared size: a shorter member is damaged
        raise _damaged(info.filename)
    return written


def extract_zip(upload, dest: Path, *, max_bytes: int | None = None) -> Path:
    """Extract an uploaded zip into `dest`, streaming every member and counting its real size.

    Refused with a `ValidationError` naming the member: a damaged archive or member, absolute names, `..`,
    symlinks, encrypted members, more than MAX_ZIP_MEMBERS members, more than `max_bytes` in all
    (DATASET_UNZIPPED_MAX_BYTES; declared sizes are only used to refuse early, never trusted). On any
    refusal or error nothing is left in `dest`.
    """
    limit = settings.DATASET_UNZIPPED_MAX_BYTES if max_bytes is None else max_bytes
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValidationError(_("Le fichier n'est pas une archive zip valide."), code="zip_invalid") from exc
    shutil.rmtree(dest, ignore_errors=True)
    try:
        dest.mkdir(parents=True)
        with archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise ValidationError(_("L'archive contient plus de %(n)s fichiers.") % {"n": MAX_ZIP_MEMBERS},
                                      code="zip_members")
            planned = [(info, _member_parts(info)) for info in members]
            declared = 0
            for info in members:  # refused before anything is written when the declared sizes already say so
                declared += info.file_size
                if declared > limit:
                    raise _too_large(info.filename, limit)
            total = 0
            for info, parts in planned:
                target = dest.joinpath(*parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                total += _extract_member(archive, info, target, room=limit - total, limit=limit)
    except BaseException as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if is_disk_full(exc):  # the disk filled up while extracting: a clear refusal, nothing left behind
            raise ValidationError(disk_full_message(), code="disk_full") from exc
        raise
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
