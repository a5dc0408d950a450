"""What an import reports: refused files, per-table counts and problems, staged rows.

The importers (:mod:`connectors.files`, :mod:`connectors.sql`, :mod:`connectors.load`) and the
数据管理 page read these; :mod:`connectors.validation` fills them (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import pyarrow as pa


class ImportFileError(ValueError):
    """A file or batch cannot be imported at all; ``code`` names the problem for the UI.

    Codes: ``empty``, ``missing_columns``, ``encoding``, ``line_too_long``, ``format``,
    ``table``, ``load``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableReport:
    """What validation found in one table of a batch.

    Attributes
    ----------
    table
        Target table.
    rows_in
        Rows read.
    rows_valid
        Rows that pass every check (loaded unless the import was a dry run or aborted).
    rows_rejected
        Rows with at least one problem (kept in ``import_quarantine`` when written).
    rows_skipped
        Rows whose key is already in the database and that have no other problem.
    problems
        ``{reason: number of rows}``, e.g. ``{"negative:qty": 3}``.
    examples
        ``{reason: first rows}``: the raw values, with ``row`` the spreadsheet row number.
    mapping
        ``{file header: column}`` used.
    ignored
        File headers not imported.
    """

    table: str
    rows_in: int
    rows_valid: int
    rows_rejected: int
    rows_skipped: int
    problems: dict[str, int] = field(default_factory=dict)
    examples: dict[str, pd.DataFrame] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """Outcome of one import (a file, a workbook or a database sync batch).

    Attributes
    ----------
    import_id
        Id of the batch; its ``import_log`` and ``import_quarantine`` rows carry
        ``"<import_id>:<table>"``.
    source
        File name or sync source.
    content_hash
        SHA-256 of the content; the same content is never loaded twice.
    tables
        One report per table, in load order.
    written
        Whether rows were written (false for dry runs, aborts and repeated content).
    already_imported
        The content had been imported before; nothing was checked or written.
    encoding
        Detected text encoding (CSV only).
    days
        The days the loaded rows count for (order, sale, stock, feedback dates; an order
        line's order date), for an after-load step that refreshes only those days.
    """

    import_id: str
    source: str
    content_hash: str
    tables: tuple[TableReport, ...] = ()
    written: bool = False
    already_imported: bool = False
    encoding: str | None = None
    days: tuple[date, ...] = ()

    @property
    def tables_loaded(self) -> tuple[str, ...]:
        """Tables that received rows."""
        return tuple(t.table for t in self.tables if t.rows_valid) if self.written else ()

    @property
    def rows_in(self) -> int:
        """Rows read over all tables."""
        return sum(t.rows_in for t in self.tables)

    @property
    def rows_loaded(self) -> int:
        """Rows inserted (0 unless written)."""
        return sum(t.rows_valid for t in self.tables) if self.written else 0

    @property
    def rows_rejected(self) -> int:
        """Rows with a problem."""
        return sum(t.rows_rejected for t in self.tables)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return self.rows_rejected == 0

    def problems(self) -> pd.DataFrame:
        """Return the problem counts as a frame (table, reason, rows)."""
        rows = [(t.table, r, n) for t in self.tables for r, n in t.problems.items()]
        return pd.DataFrame(rows, columns=["table", "reason", "rows"])


@dataclass(frozen=True)
class Staged:
    """One table's raw rows, columns renamed to schema names, ready for :func:`run`."""

    table: str
    data: pa.Table
    mapping: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    first_row: int = 2  # spreadsheet row number of the first data row (header is row 1)
    row_numbers: pa.Array | None = None  # explicit row numbers, overriding first_row
