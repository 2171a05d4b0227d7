"""`tremplin backup FILE` / `tremplin restore FILE`: the whole installation in one archive.

The database (SQLite or PostgreSQL, from DATABASE_URL), the stored files and the datasets under
TREMPLIN_DATA_DIR, with a manifest (versions, migration state, row counts, checksums). The same environment
variables as the web platform are read (DATABASE_URL, TREMPLIN_DATA_DIR, SECRET_KEY or DEBUG=1).

Django is imported inside the commands only: `tremplin --help` and the engine's commands stay fast.
Exit codes: 0 done, 2 refused or failed (the message says why; nothing was changed by a refused restore).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from tremplin.commands.data import console, out, progress_bar
from tremplin.commands.flags import fail


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tremplin.web.settings")
    try:
        import django  # noqa: PLC0415 -- slow import

        django.setup()
    except Exception as exc:  # noqa: BLE001 - a misconfiguration (SECRET_KEY, DATABASE_URL) is told plainly
        fail(f"the platform's settings could not be loaded: {exc}")


def _run(operation: str, description: str, **kwargs) -> dict:
    """Set Django up, then run `tremplin.web.core.backup.<operation>` under a progress bar."""
    _setup_django()
    # after django.setup(): the service imports the platform's models
    from tremplin.web.core import backup as service  # noqa: PLC0415 -- slow import

    try:
        with progress_bar(description) as progress:
            return getattr(service, operation)(progress=progress, **kwargs)
    except service.BackupError as exc:
        fail(str(exc))


def _summary(rows: list[tuple[str, str]]) -> None:
    table = Table(show_header=False, box=None)
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def backup(
    file: Path = typer.Argument(..., help="Archive to write: .tar, or .tar.gz to compress it."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace FILE if it exists."),
) -> None:
    """Back up the database, the stored files and the datasets into one archive.

    A consistent copy, safe while the platform runs (SQLite's backup API; pg_dump in one snapshot). The
    archive holds personal and care data: it is written readable by its owner only; keep it encrypted.
    SECRET_KEY is not in it (keep it apart: TOTP secrets are encrypted with it).

    Example: tremplin backup /srv/backups/tremplin-$(date +%F).tar.gz
    """
    manifest = _run("backup_create", "Backing up", path=file, overwrite=overwrite)
    files = [m for m in manifest["files"] if m.startswith("data/")]
    _summary([
        ("archive", str(file)),
        ("database", f"{manifest['database']['engine']} {manifest['database']['server_version']}"),
        ("tables", f"{len(manifest['tables'])} ({sum(manifest['tables'].values())} rows)"),
        ("migrations", str(len(manifest["migrations"]))),
        ("files", f"{len(files)} ({_size(sum(manifest['files'][m]['size'] for m in files))})"),
        ("archive size", _size(Path(file).stat().st_size)),
    ])


def restore(
    file: Path = typer.Argument(..., exists=False, help="Archive written by `tremplin backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a database and data directory that hold data."),
) -> None:
    """Restore a backup into the configured database and data directory.

    Every checksum is verified first. Refused, with nothing changed: a damaged archive, a backup of another
    engine or of a newer version, and an installation that already holds data (unless --force, which replaces
    all of it). Stop the web server and the worker first.

    Example: DATABASE_URL=postgres://... TREMPLIN_DATA_DIR=/srv/tremplin tremplin restore backup.tar.gz
    """
    summary = _run("backup_restore", "Restoring", path=file, force=force)
    manifest = summary["manifest"]
    _summary([
        ("restored", str(file)),
        ("made on", f"{manifest['created_at']} by Tremplin {manifest['versions']['tremplin']}"),
        ("tables", f"{summary['tables']} ({summary['rows']} rows, counts checked)"),
        ("files", f"{summary['files']} ({_size(summary['bytes'])})"),
    ])
    if summary["pending_migrations"]:
        console.print(f"[yellow]This version has {len(summary['pending_migrations'])} migration(s) the backup "
                      "lacks: run `python manage.py migrate` before starting the platform.[/yellow]")


def register(app: typer.Typer) -> None:
    """Add the backup commands to the `tremplin` application."""
    app.command("backup")(backup)
    app.command("restore")(restore)
