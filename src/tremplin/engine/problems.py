"""Located problems in a dataset: `ValidationError` (file, row, column, message) and the `Collector` that
keeps the first ones and counts them all. Shared by the CSV parser (`typed_csv`), the OMOP mapping
(`omop`) and the validator (`validation`).
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb

__all__ = ["Collector", "ValidationError"]


class ValidationError(NamedTuple):
    """One located problem. `row` is None for problems about a whole file or column."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class Collector:
    """Keeps the first `max_errors` problems and counts every one (`total`)."""

    def __init__(self, max_errors: int) -> None:
        self.max_errors = max_errors
        self.errors: list[ValidationError] = []
        self.total = 0

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(ValidationError(file, row, column, message))

    def add_many(self, items: list[ValidationError], total: int) -> None:
        self.total += total
        room = self.max_errors - len(self.errors)
        if room > 0:
            self.errors.extend(items[:room])

    def sql(self, con: duckdb.DuckDBPyConnection, relation_sql: str, column: str | None, message: str) -> None:
        """`relation_sql` selects the offending rows (with `_file`, `_row`, and `_value`)."""
        total = con.execute(f"SELECT count(*) FROM ({relation_sql})").fetchall()[0][0]  # noqa: S608
        if not total:
            return
        room = max(self.max_errors - len(self.errors), 0)
        rows = []
        if room:
            rows = con.execute(
                f"SELECT _file, _row, _value FROM ({relation_sql}) ORDER BY _file, _row LIMIT {room}"  # noqa: S608
            ).fetchall()
        items = [
            ValidationError(str(f), int(r) if r is not None else None, column, message.format(value=v))
            for f, r, v in rows
        ]
        self.add_many(items, int(total))
