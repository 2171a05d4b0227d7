"""Backup and restore of a whole installation: the database, the stored files and the datasets.

One archive (tar, gzip-compressed when its name ends in .gz or .tgz) holds:
- `database/tremplin.sqlite3`: a consistent online copy made with SQLite's backup API, or
  `database/tremplin.pgdump`: `pg_dump --format=custom` of the configured PostgreSQL database, taken in the same
  REPEATABLE READ snapshot as the manifest's row counts and migration state;
- `data/...`: every file under TREMPLIN_DATA_DIR (uploads in `private/`, datasets in `datasets/`, whatever later
  apps keep there), except the SQLite files themselves, collected static files, the development secret key and
  temporary folders;
- `manifest.json` (last): format, versions, engine, migration state, row count of every table, size and SHA-256
  of every member.

Why the database's own tools and not `dumpdata`/`loaddata`: they copy everything the database holds — tables of
every app including django-q's and the sessions, `django_migrations`, sequences, indexes, the full-text index and
its triggers, the audit log's append-only triggers — byte for byte and in one consistent snapshot, whereas
`dumpdata` skips what is not a model (the migration table, FTS tables, triggers) and `loaddata` would have to
pass through the audit log's protection. The cost: a backup restores onto the same engine (SQLite to SQLite,
PostgreSQL to PostgreSQL), and `pg_restore` must be at least as recent as the `pg_dump` that wrote it.

Restore checks every checksum before anything is touched, refuses a backup made by a newer version (unknown
migrations) or for another engine, and refuses to replace a database or data directory that already holds data
unless `force=True`. The database is replaced in one transaction (PostgreSQL: the schema's objects are dropped and
the dump replayed by `psql --single-transaction`; SQLite: the backup API writes every page in one transaction);
the files are extracted beside the data directory first and moved into place only once the database is restored.
The append-only protection of the audit log does not get in the way: its tables are dropped (PostgreSQL) or
overwritten page by page (SQLite), never updated or deleted row by row, and its triggers come back with the dump.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import io
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

FORMAT = "tremplin-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_DIR = "database"
DATA_PREFIX = "data"
SQLITE_MEMBER = f"{DB_DIR}/tremplin.sqlite3"
PG_MEMBER = f"{DB_DIR}/tremplin.pgdump"
CHUNK = 1024 * 1024
# Tables that a bare `migrate` already fills: a database holding rows only there is empty. django_q_schedule:
# the horizon and notifications migrations create the worker's periodic schedules.
MIGRATE_ONLY_TABLES = {"django_migrations", "django_content_type", "auth_permission", "django_q_schedule"}
STAGING_PREFIXES = (".restore-", ".backup-")

Progress = Callable[[float, str], None]


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


def _no_progress(fraction: float, message: str) -> None:
    return None


# --- what is backed up -------------------------------------------------------------------------------------


def _settings():
    from django.conf import settings

    return settings


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


def _sqlite_path() -> Path:
    return Path(_settings().DATABASES["default"]["NAME"]).resolve()


def _excluded(data_dir: Path) -> set[Path]:
    """Paths under the data directory that are not data: the database files, static files, the dev secret key."""
    settings = _settings()
    excluded = {data_dir / "secret_key", Path(settings.STATIC_ROOT).resolve()}
    if _vendor() == "sqlite":
        db = _sqlite_path()
        excluded |= {db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")}
    return excluded


def _is_temporary(relative: PurePosixPath) -> bool:
    name = relative.name
    return (name.startswith(STAGING_PREFIXES) and len(relative.parts) == 1) or name.startswith(".import-")


def data_entries(data_dir: Path, *, skip: set[Path] = frozenset()) -> Iterator[Path]:
    """Every directory and regular file under `data_dir` that a backup holds (sorted, parents first)."""
    excluded = _excluded(data_dir) | {p.resolve() for p in skip}

    def walk(directory: Path) -> Iterator[Path]:
        for path in sorted(directory.iterdir()):
            relative = PurePosixPath(path.relative_to(data_dir).as_posix())
            if path in excluded or path.resolve() in excluded or _is_temporary(relative):
                continue
            if path.is_symlink():
                continue  # never followed: a link could point anywhere on the server
            if path.is_dir():
                yield path
                yield from walk(path)
            elif path.is_file():
                yield path

    if data_dir.is_dir():
        yield from walk(data_dir)


# --- database inspection -----------------------------------------------------------------------------------


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    counts = {}
    for name in names:
        try:
            counts[name] = conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608 - catalog names
        except sqlite3.OperationalError:  # a virtual table whose module is missing: not ours to count
            continue
    return counts


def _sqlite_migrations(conn: sqlite3.Connection) -> list[list[str]]:
    try:
        return [list(r) for r in conn.execute("SELECT app, name FROM django_migrations ORDER BY id")]
    except sqlite3.OperationalError:
        return []


def _pg_tables(cursor) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    names = [r[0] for r in cursor.fetchall()]
    counts = {}
    for name in names:
        cursor.execute('SELECT COUNT(*) FROM "{}"'.format(name.replace('"', '""')))  # noqa: S608 - catalog names
        counts[name] = cursor.fetchone()[0]
    return counts


def _pg_migrations(cursor) -> list[list[str]]:
    cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return []
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    return [list(r) for r in cursor.fetchall()]


def holds_data(counts: dict[str, int]) -> list[str]:
    """The tables of Django models that hold rows a bare `migrate` would not have written."""
    from django.db import connection

    model_tables = set(connection.introspection.django_table_names(only_existing=False, include_views=False))
    return sorted(t for t, n in counts.items() if n and t in model_tables and t not in MIGRATE_ONLY_TABLES)


def current_tables() -> dict[str, int]:
    """Row count of every table of the configured database."""
    from django.db import connection

    if connection.vendor == "sqlite":
        path = _sqlite_path()
        if not path.exists():
            return {}
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return _sqlite_tables(conn)
        finally:
            conn.close()
    with connection.cursor() as cursor:
        return _pg_tables(cursor)


# --- PostgreSQL tools --------------------------------------------------------------------------------------


def _pg_settings() -> dict:
    return _settings().DATABASES["default"]


def _pg_env() -> dict[str, str]:
    """libpq environment for pg_dump / pg_restore / psql: nothing secret on a command line."""
    db = _pg_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pairs = {"PGHOST": db.get("HOST"), "PGPORT": db.get("PORT"), "PGUSER": db.get("USER"),
             "PGPASSWORD": db.get("PASSWORD"), "PGDATABASE": db.get("NAME")}
    options = db.get("OPTIONS") or {}
    for key, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcert", "PGSSLCERT"),
                          ("sslkey", "PGSSLKEY"), ("passfile", "PGPASSFILE"), ("service", "PGSERVICE")):
        if options.get(key):
            pairs[variable] = options[key]
    env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    return env


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    match = re.search(r"\)\s*(\d+)", out)
    return int(match.group(1)) if match else None


def pg_tool(name: str, *, at_least: int) -> tuple[str, int]:
    """The path and major version of a PostgreSQL client tool (PATH, then /usr/lib/postgresql/*/bin) whose major
    version is at least `at_least` (pg_dump must not be older than the server)."""
    candidates = []
    if found := shutil.which(name):
        candidates.append(found)
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    seen = []
    for candidate in candidates:
        major = _tool_major(candidate)
        seen.append(f"{candidate} ({major})")
        if major is not None and major >= at_least:
            return candidate, major
    raise BackupError(f"{name} for PostgreSQL {at_least} or newer was not found "
                      f"({', '.join(seen) or 'none on PATH nor in /usr/lib/postgresql/*/bin'}): install the "
                      f"PostgreSQL client of the server's version (Debian: postgresql-client-{at_least}).")


def _pg_server_major() -> int:
    from django.db import connection

    connection.ensure_connection()
    return connection.pg_version // 10000


def _run_checked(command: list[str], *, env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


# --- backup ------------------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _snapshot_sqlite(dest: Path, progress: Progress) -> dict:
    source_path = _sqlite_path()
    if not source_path.exists():
        raise BackupError(f"the SQLite database does not exist yet ({source_path.name}): nothing to back up.")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dest)
    try:
        def step(status, remaining, total):
            progress(0.3 * (1 - remaining / total) if total else 0.3, "Copying the SQLite database")

        source.backup(target, pages=256, progress=step)  # a consistent copy, even while the platform runs
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        ok = target.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise BackupError(f"the copy of the SQLite database fails its integrity check: {ok}")
        return {"tables": _sqlite_tables(target), "migrations": _sqlite_migrations(target),
                "server_version": sqlite3.sqlite_version}
    finally:
        target.close()
        source.close()


def _snapshot_postgres(dest: Path, progress: Progress) -> dict:
    from django.db import connection, transaction

    server_major = _pg_server_major()
    pg_dump, dump_major = pg_tool("pg_dump", at_least=server_major)
    progress(0.02, "Dumping the PostgreSQL database")
    with transaction.atomic(), connection.cursor() as cursor:
        # The manifest's counts and migrations are read in the very snapshot that pg_dump copies.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        tables = _pg_tables(cursor)
        migrations = _pg_migrations(cursor)
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
        _run_checked([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                      "--file", str(dest)], env=_pg_env(), what="pg_dump")
    progress(0.3, "PostgreSQL database dumped")
    return {"tables": tables, "migrations": migrations, "server_version": server_version,
            "pg_dump_major": dump_major}


def _versions() -> dict:
    import django

    import tremplin

    return {"tremplin": tremplin.__version__, "django": django.get_version(), "python": platform.python_version()}


def _add_file(archive: tarfile.TarFile, path: Path, arcname: str) -> dict:
    info = archive.gettarinfo(str(path), arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    digest = hashlib.sha256()
    size = 0

    class Hashing(io.RawIOBase):
        def __init__(self, fh):
            self.fh = fh

        def readinto(self, buffer):
            data = self.fh.read(len(buffer))
            nonlocal size
            size += len(data)
            digest.update(data)
            buffer[: len(data)] = data
            return len(data)

        def readable(self):
            return True

    with path.open("rb") as fh:
        archive.addfile(info, io.BufferedReader(Hashing(fh), CHUNK))
    if size != info.size:
        raise BackupError(f"{arcname} changed size while it was copied: run the backup again.")
    return {"sha256": digest.hexdigest(), "size": size}


def _add_dir(archive: tarfile.TarFile, path: Path, arcname: str) -> None:
    info = archive.gettarinfo(str(path), arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    archive.addfile(info)


def _compression(path: Path) -> str:
    return "gz" if path.name.endswith((".gz", ".tgz")) else ""


def backup_create(*, path: Path, overwrite: bool = False, progress: Progress = _no_progress) -> dict:
    """Write a backup archive of the configured installation to `path`; returns its manifest.

    The archive is written beside `path` under a temporary name and renamed at the end: a failed backup leaves
    no file behind.
    """
    settings = _settings()
    path = Path(path).resolve()
    data_dir = Path(settings.DATA_DIR).resolve()
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists (pass --overwrite to replace it).")
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} does not exist.")
    vendor = _vendor()
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {vendor}.")
    fd, partial_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    partial = Path(partial_name)
    try:
        with tempfile.TemporaryDirectory(prefix=".backup-", dir=data_dir) as tmp:
            db_member = SQLITE_MEMBER if vendor == "sqlite" else PG_MEMBER
            db_file = Path(tmp) / PurePosixPath(db_member).name
            snapshot = (_snapshot_sqlite if vendor == "sqlite" else _snapshot_postgres)(db_file, progress)
            entries = list(data_entries(data_dir, skip={partial, path}))
            total = sum(p.stat().st_size for p in entries if p.is_file()) or 1
            done = 0
            members: dict[str, dict] = {}
            with tarfile.open(partial, f"w:{_compression(path)}", format=tarfile.PAX_FORMAT) as archive:
                _add_dir(archive, Path(tmp), DB_DIR)
                members[db_member] = _add_file(archive, db_file, db_member)
                progress(0.35, "Database added; copying the files")
                for entry in entries:
                    arcname = f"{DATA_PREFIX}/{entry.relative_to(data_dir).as_posix()}"
                    if entry.is_dir():
                        _add_dir(archive, entry, arcname)
                        continue
                    members[arcname] = _add_file(archive, entry, arcname)
                    done += members[arcname]["size"]
                    progress(0.35 + 0.6 * done / total, f"Copying {entry.relative_to(data_dir).as_posix()}")
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "versions": _versions(),
                    "database": {"engine": vendor, "server_version": snapshot["server_version"],
                                 "member": db_member, **({"pg_dump_major": snapshot["pg_dump_major"]}
                                                         if "pg_dump_major" in snapshot else {})},
                    "migrations": snapshot["migrations"],
                    "tables": snapshot["tables"],
                    "files": members,
                }
                blob = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(blob)
                info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(blob))
        partial.chmod(0o600)  # the archive holds personal and care data
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    progress(1.0, "Backup written")
    return manifest


# --- restore -----------------------------------------------------------------------------------------------


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\0" in name:
        raise BackupError(f"the archive holds a forbidden path: {name!r}.")
    return path


def read_manifest(path: Path) -> dict:
    """The manifest of a backup archive (BackupError when it is not a Tremplin backup)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            try:
                member = archive.getmember(MANIFEST)
            except KeyError:
                raise BackupError(f"{path} is not a Tremplin backup (no {MANIFEST}).") from None
            manifest = json.loads(archive.extractfile(member).read())
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read as a backup archive: {exc}") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{path} is not a Tremplin backup.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"backup format {manifest.get('format_version')} is not supported by this version "
                          f"(it reads format {FORMAT_VERSION}).")
    return manifest


def verify_archive(path: Path, manifest: dict, progress: Progress = _no_progress) -> None:
    """Check every member against the manifest (names, kinds, sizes, SHA-256) before anything is restored."""
    expected = manifest["files"]
    seen = set()
    total = sum(m["size"] for m in expected.values()) or 1
    done = 0
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = member.name
                _safe_member_path(name)
                if name == MANIFEST:
                    continue
                if member.isdir():
                    if name != DB_DIR and not name.startswith(f"{DATA_PREFIX}/") and name != DATA_PREFIX:
                        raise BackupError(f"unexpected folder in the archive: {name}.")
                    continue
                if not member.isfile():
                    raise BackupError(f"the archive holds something other than files and folders: {name}.")
                if name not in expected:
                    raise BackupError(f"{name} is in the archive but not in its manifest.")
                digest = hashlib.sha256()
                with archive.extractfile(member) as fh:
                    for block in iter(lambda fh=fh: fh.read(CHUNK), b""):
                        digest.update(block)
                if digest.hexdigest() != expected[name]["sha256"] or member.size != expected[name]["size"]:
                    raise BackupError(f"{name} does not match its checksum: the archive is damaged.")
                seen.add(name)
                done += member.size
                progress(0.3 * done / total, "Checking the archive")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"the archive is damaged or truncated: {exc}") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive lacks {len(missing)} file(s) of its manifest, e.g. {missing[0]}.")


def _known_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _check_compatible(manifest: dict) -> list[list[str]]:
    """Refuse another engine or a newer version's backup; return the migrations the code has and it lacks."""
    engine = manifest["database"]["engine"]
    vendor = _vendor()
    if engine != vendor:
        raise BackupError(f"this backup is of a {engine} database and the configured database is {vendor}: a "
                          "backup restores onto the same engine (DATABASE_URL).")
    known = _known_migrations()
    applied = {tuple(m) for m in manifest["migrations"]}
    unknown = sorted(applied - known)
    if unknown:
        app, name = unknown[0]
        raise BackupError(f"this backup was made by a newer version of Tremplin ({len(unknown)} migration(s) "
                          f"unknown to this one, e.g. {app}.{name}): install that version, then restore.")
    return [list(m) for m in sorted(known - applied)]


def _data_dir_holds_files(data_dir: Path) -> tuple[int, list[str]]:
    """How many files the data directory holds, and the top-level folders they are in."""
    files = [p.relative_to(data_dir) for p in data_entries(data_dir) if p.is_file()]
    return len(files), sorted({f.parts[0] for f in files})


def _check_empty(data_dir: Path) -> None:
    tables = holds_data(current_tables())
    count, folders = _data_dir_holds_files(data_dir)
    if tables or count:
        what = []
        if tables:
            what.append(f"the database holds data ({len(tables)} tables, e.g. {', '.join(tables[:3])})")
        if count:
            what.append(f"the data directory holds {count} file(s) (in {', '.join(folders)})")
        raise BackupError("refusing to restore over an installation that is not empty: " + " and ".join(what)
                          + ". Restore into a new database and data directory, or pass --force to replace "
                            "everything they hold with the backup.")


def _extract(path: Path, manifest: dict, staging: Path, progress: Progress) -> Path:
    """Extract the archive into `staging` (data files under staging/data); returns the database file."""
    total = sum(m["size"] for m in manifest["files"].values()) or 1
    done = 0
    db_file = None
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            relative = _safe_member_path(member.name)
            if member.name == MANIFEST:
                continue
            target = staging.joinpath(*relative.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as fh, target.open("xb") as out:
                shutil.copyfileobj(fh, out, CHUNK)
            target.chmod(member.mode & 0o777 or 0o600)
            os.utime(target, (member.mtime, member.mtime))
            if member.name == manifest["database"]["member"]:
                db_file = target
            done += member.size
            progress(0.3 + 0.3 * done / total, "Extracting")
    if db_file is None:
        raise BackupError("the archive holds no database.")
    return db_file


def _restore_sqlite(db_file: Path) -> None:
    from django.db import connections

    connections.close_all()
    target_path = _sqlite_path()
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target)  # every page of the target replaced, in one transaction
    finally:
        target.close()
        source.close()


_PG_DROP_SQL = """
SELECT 'DROP VIEW IF EXISTS ' || quote_ident(schemaname) || '.' || quote_ident(viewname) || ' CASCADE;'
  FROM pg_views WHERE schemaname = current_schema()
UNION ALL
SELECT 'DROP TABLE IF EXISTS ' || quote_ident(schemaname) || '.' || quote_ident(tablename) || ' CASCADE;'
  FROM pg_tables WHERE schemaname = current_schema()
UNION ALL
SELECT 'DROP SEQUENCE IF EXISTS ' || quote_ident(schemaname) || '.' || quote_ident(sequencename) || ' CASCADE;'
  FROM pg_sequences WHERE schemaname = current_schema()
UNION ALL
SELECT 'DROP FUNCTION IF EXISTS ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
       || '(' || pg_get_function_identity_arguments(p.oid) || ') CASCADE;'
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema()
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
"""


def _restore_postgres(db_file: Path, manifest: dict) -> None:
    """Drop the schema's objects and replay the dump, all in one transaction (psql --single-transaction)."""
    from django.db import connection, connections

    server_major = _pg_server_major()
    dump_major = int(manifest["database"].get("pg_dump_major") or server_major)
    pg_restore, _ = pg_tool("pg_restore", at_least=max(server_major, dump_major))
    psql, _ = pg_tool("psql", at_least=0)
    with connection.cursor() as cursor:
        cursor.execute(_PG_DROP_SQL)
        drops = [r[0] for r in cursor.fetchall()]
    connections.close_all()
    env = _pg_env()
    header = "\n".join(["SET client_min_messages = warning;", *drops, ""]).encode()
    with tempfile.TemporaryFile() as errors:
        script = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file", "-", str(db_file)],
                                  env=env, stdout=subprocess.PIPE, stderr=errors)
        apply = subprocess.Popen([psql, "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-o",
                                  os.devnull], env=env, stdin=subprocess.PIPE, stderr=errors)
        try:
            apply.stdin.write(header)
            shutil.copyfileobj(script.stdout, apply.stdin, CHUNK)
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                apply.stdin.close()
        script_code = script.wait()
        apply_code = apply.wait()
        if script_code or apply_code:
            errors.seek(0)
            detail = errors.read().decode(errors="replace").strip()[-2000:]
            raise BackupError(f"restoring the PostgreSQL database failed (pg_restore exit {script_code}, psql exit "
                              f"{apply_code}); the database was left as it was: {detail}")


def _swap_data(staging_data: Path, data_dir: Path, old: Path) -> None:
    """Move the restored files into the data directory; what was there goes to `old` (deleted by the caller)."""
    old.mkdir(parents=True, exist_ok=True)
    excluded = _excluded(data_dir)
    for entry in sorted(data_dir.iterdir()):
        relative = PurePosixPath(entry.name)
        if entry in excluded or entry.resolve() in excluded or _is_temporary(relative):
            continue
        entry.rename(old / entry.name)
    if staging_data.is_dir():
        for entry in sorted(staging_data.iterdir()):
            entry.rename(data_dir / entry.name)


def backup_restore(*, path: Path, force: bool = False, progress: Progress = _no_progress) -> dict:
    """Restore a backup archive into the configured database and data directory; returns a summary.

    Refused (BackupError, nothing changed): a damaged archive, another engine, a newer version's backup, or an
    installation that holds data when `force` is off.
    """
    settings = _settings()
    path = Path(path).resolve()
    data_dir = Path(settings.DATA_DIR).resolve()
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    manifest = read_manifest(path)
    progress(0.0, "Checking the archive")
    verify_archive(path, manifest, progress)
    pending = _check_compatible(manifest)
    if not force:
        _check_empty(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    try:
        db_file = _extract(path, manifest, staging, progress)
        progress(0.6, "Restoring the database")
        if manifest["database"]["engine"] == "sqlite":
            _restore_sqlite(db_file)
        else:
            _restore_postgres(db_file, manifest)
        progress(0.85, "Moving the files into place")
        _swap_data(staging / DATA_PREFIX, data_dir, staging / "previous")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(0.95, "Checking the restored database")
    counts = current_tables()
    different = sorted(t for t, n in manifest["tables"].items() if counts.get(t) != n)
    if different:
        raise BackupError(f"the restored database differs from the backup's manifest in {len(different)} "
                          f"table(s), e.g. {different[0]}: {counts.get(different[0])} rows instead of "
                          f"{manifest['tables'][different[0]]}.")
    progress(1.0, "Restored")
    files = [m for m in manifest["files"] if m.startswith(f"{DATA_PREFIX}/")]
    return {"manifest": manifest, "tables": len(manifest["tables"]), "rows": sum(manifest["tables"].values()),
            "files": len(files), "bytes": sum(manifest["files"][m]["size"] for m in files),
            "pending_migrations": pending}
