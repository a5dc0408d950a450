"""The shape of an input table: columns, keys, references, lookups and row checks.

:mod:`connectors.tables` describes each input table with these; the importer reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Logical kinds; connectors/validation.py turns each into a DuckDB coercion expression.
# ``minutes`` is a minute of the day, given as a number (480) or a clock time (08:00).
KINDS = ("int", "float", "str", "date", "timestamp", "bool", "list", "minutes")


@dataclass(frozen=True)
class Column:
    """One column of an importable table.

    Attributes
    ----------
    name
        Schema column name.
    kind
        One of :data:`KINDS`.
    required
        The file must contain this column and every row a value.
    default
        SQL expression filling a missing column or empty value (only for optional columns);
        it may refer to other (coerced) columns of the same row.
    nonneg
        Negative values are rejected.
    not_future
        Dates or times after the import's ``now`` are rejected.
    lo, hi
        Bounds of a number (``out_of_range``; NaN and infinities are outside every bound).
        Dates and times are always bounded by ``limits.DATE_MIN`` and ``limits.DATE_MAX``,
        text by ``limits.IMPORT_MAX_TEXT_CHARS`` (``too_long``).
    choices
        The values a coded text column may take (``unknown_value``).
    """

    name: str
    kind: str
    required: bool = False
    default: str | None = None
    nonneg: bool = False
    not_future: bool = False
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """A column that must name an existing row of another table (in the database or batch)."""

    column: str
    table: str
    key: str


@dataclass(frozen=True)
class NotBefore:
    """``column`` may not be earlier than ``value`` of the row of ``table`` (database and
    batch) whose ``key`` equals this row's ``on`` column; e.g. an order not before its user
    signed up. Rejected as ``before_<reason>:<column>``."""

    column: str
    table: str
    on: str
    key: str
    value: str
    reason: str


@dataclass(frozen=True)
class Lookup:
    """Fill an empty ``column`` with ``agg(value)`` of the rows of ``table`` (database and
    batch) whose ``key`` equals this row's ``on`` column; e.g. an order's community from its user.
    """

    column: str
    table: str
    on: str
    key: str
    value: str
    agg: str = "any_value"


@dataclass(frozen=True)
class Check:
    """A row-level rule beyond types: the row is rejected with ``reason`` when ``condition``
    (fixed SQL over the coerced row, columns as ``c.<name>``; ``:today`` is the import's date,
    bound as a parameter) is true."""

    reason: str
    condition: str


@dataclass(frozen=True)
class DayVia:
    """How a row of a table without its own day column finds its day: the ``column`` of the
    ``table`` row whose ``key`` equals this row's ``on`` (an order line's order date)."""

    on: str
    table: str
    key: str
    column: str


@dataclass(frozen=True)
class TableSpec:
    """An importable table.

    Attributes
    ----------
    name
        Schema table name.
    columns
        Columns in schema order.
    key
        Columns identifying a row; duplicates (in the file or against the database) are rejected.
    references
        Foreign keys checked before loading.
    lookups
        Values filled from other tables, applied in order (after the defaults).
    checks
        Row rules beyond types, references and keys.
    at_most
        ``(column, other)`` pairs: ``column`` may not exceed ``other`` of the same row
        (``exceeds:<column>``).
    not_before
        Dates that may not precede a date of another table.
    day
        The column giving the day a row counts for in the daily rollups (``None``: none).
    day_via
        For a table without such a column, where its day comes from.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    checks: tuple[Check, ...] = ()
    at_most: tuple[tuple[str, str], ...] = ()
    not_before: tuple[NotBefore, ...] = ()
    day: str | None = None
    day_via: DayVia | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """All column names, in schema order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Names of required columns."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)
