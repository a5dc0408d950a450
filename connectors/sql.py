"""Incremental sync of orders and order items from an operational MySQL/MariaDB or PostgreSQL.

Each sync reads the source's orders whose watermark column (e.g. ``updated_at`` or an
increasing id) is at or after the last watermark, with their items, and sends them through
the same checks as a file import (:mod:`connectors.validation`). The new watermark is stored
in ``meta`` (key ``sync_watermark:<name>``) in the same transaction as the rows, so a crash
never skips or doubles rows. The boundary is inclusive (rows committed late with the same
timestamp are not lost); the order keys seen at the boundary are stored with the watermark
so they are not read again.

Source table and column names come from configuration; they are checked against the source's
own ``information_schema`` before they are quoted into a query. Values are bound parameters.
Changes to orders already loaded (a later refund) are not applied: this is an append sync.

A sync that wrote rows runs the after-load step (:func:`engine.afterload.run`): the KPI
rollups, the as-of date and the data version follow the new orders at once.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb
import pandas as pd
import pyarrow as pa

from connectors import mapping as mapping_
from connectors import tables as tables_
from connectors import validation
from connectors.validation import ImportReport
from engine import afterload

DIALECTS = ("postgresql", "mysql")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class SyncSource:
    """Where and how to read orders from an operational database.

    Attributes
    ----------
    name
        Short name of the source; keys the stored watermark and appears in ``import_log``.
    url
        ``postgresql://user:pw@host:5432/db`` or ``mysql://user:pw@host:3306/db``
        (``mariadb://`` works too).
    orders_table
        Source table of orders (``schema.table`` allowed).
    items_table
        Source table of order lines, or ``None`` to sync orders only.
    watermark
        Column of ``orders_table`` that grows with every new or changed order.
    orders_mapping, items_mapping
        ``{source column: Linli column}`` overrides of the guessed mapping
        (:mod:`connectors.mapping`).
    """

    name: str
    url: str
    orders_table: str = "orders"
    items_table: str | None = "order_items"
    watermark: str = "updated_at"
    orders_mapping: dict[str, str] = field(default_factory=dict)
    items_mapping: dict[str, str] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``mysql``."""
        scheme = urlparse(self.url).scheme.split("+")[0]
        if scheme in ("postgresql", "postgres"):
            return "postgresql"
        if scheme in ("mysql", "mariadb"):
            return "mysql"
        raise ValueError(
            f"Unsupported database URL scheme {scheme!r}; use postgresql:// or mysql://"
        )

    @property
    def meta_key(self) -> str:
        """The ``meta`` key holding this source's watermark."""
        return f"sync_watermark:{self.name}"


@dataclass(frozen=True)
class SyncResult:
    """Outcome of one sync.

    Attributes
    ----------
    source
        Source name.
    watermark_from, watermark_to
        Watermark before and after (unchanged when nothing was written).
    orders_fetched, items_fetched
        Rows read from the source.
    report
        The validation and load report.
    """

    source: str
    watermark_from: Any
    watermark_to: Any
    orders_fetched: int
    items_fetched: int
    report: ImportReport


def connect_remote(source: SyncSource, timeout_s: int = 5) -> Any:
    """Open a DB-API connection to the source database.

    Parameters
    ----------
    source
        The source.
    timeout_s
        Connect timeout in seconds.

    Returns
    -------
    object
        A psycopg or pymysql connection (the caller closes it).
    """
    if source.dialect == "postgresql":
        import psycopg

        return psycopg.connect(source.url, connect_timeout=timeout_s)
    import pymysql

    u = urlparse(source.url)
    return pymysql.connect(
        host=u.hostname or "127.0.0.1",
        port=u.port or 3306,
        user=unquote(u.username or "root"),
        password=unquote(u.password or ""),
        database=u.path.lstrip("/") or None,
        connect_timeout=timeout_s,
        charset="utf8mb4",
    )


def _quote(dialect: str, name: str) -> str:
    q = '"' if dialect == "postgresql" else "`"
    parts = name.split(".")
    if not all(_NAME.match(p) for p in parts) or len(parts) > 2:
        raise ValueError(f"Invalid table or column name {name!r}")
    return ".".join(q + p + q for p in parts)


def _columns(remote: Any, dialect: str, table: str) -> list[str]:
    """The source table's columns, from its catalogue (the identifier whitelist)."""
    schema, _, name = table.rpartition(".")
    if dialect == "postgresql":
        sql = (
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND table_schema = coalesce(%s, current_schema()) ORDER BY ordinal_position"
        )
    else:
        sql = (
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND table_schema = coalesce(%s, database()) ORDER BY ordinal_position"
        )
    cur = remote.cursor()
    cur.execute(sql, (name, schema or None))
    cols = [r[0] for r in cur.fetchall()]
    if not cols:
        raise ValueError(f"The source has no table {table!r} (or it has no columns).")
    return cols


def _fetch(remote: Any, sql: str, params: tuple) -> pd.DataFrame:
    cur = remote.cursor()
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return pd.DataFrame.from_records(cur.fetchall(), columns=names)


def _encode_wm(value: Any, seen: list[str]) -> str:
    if isinstance(value, datetime):
        kind, text = "timestamp", value.isoformat()
    elif isinstance(value, date):
        kind, text = "date", value.isoformat()
    elif isinstance(value, numbers.Integral):
        kind, text = "int", str(int(value))
    else:
        kind, text = "str", str(value)
    return json.dumps({"type": kind, "value": text, "seen": seen})


def _decode_wm(text: str | None) -> tuple[Any, set[str]]:
    if text is None:
        return None, set()
    obj = json.loads(text)
    kind, value = obj["type"], obj["value"]
    seen = set(obj.get("seen", []))
    if kind == "timestamp":
        return datetime.fromisoformat(value), seen
    if kind == "date":
        return date.fromisoformat(value), seen
    if kind == "int":
        return int(value), seen
    return value, seen


def _state(con: duckdb.DuckDBPyConnection, source: SyncSource) -> tuple[Any, set[str]]:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [source.meta_key]).fetchall()
    return _decode_wm(rows[0][0] if rows else None)


def watermark(con: duckdb.DuckDBPyConnection, source: SyncSource) -> Any:
    """Return the stored watermark of a source, or ``None`` before its first sync.

    Parameters
    ----------
    con
        Linli connection.
    source
        The source.

    Returns
    -------
    object
        A datetime, date, int or str, as read from the source's watermark column.
    """
    return _state(con, source)[0]


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    # Decimal, date and mixed columns all become text: validation coerces them uniformly.
    return pa.table(
        {
            c: pa.array(frame[c].astype(object).map(_text, na_action="ignore"), pa.string())
            for c in frame
        }
    )


def _text(v: Any) -> str:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    return str(v)


def _stage(frame: pd.DataFrame, table: str, overrides: dict[str, str]) -> validation.Staged:
    final = mapping_.apply_mapping(list(frame.columns), table, overrides)
    data = _to_arrow(frame[list(final)]).rename_columns(list(final.values()))
    ignored = tuple(c for c in frame.columns if c not in final)
    return validation.Staged(table, data, final, ignored, first_row=1)


def sync(
    con: duckdb.DuckDBPyConnection,
    source: SyncSource,
    remote: Any = None,
    *,
    now: datetime | None = None,
    on_error: str = "quarantine",
    username: str | None = None,
) -> SyncResult:
    """Bring new orders (and their items) from the source into Linli, then run the after-load step.

    Parameters
    ----------
    con
        Linli connection.
    source
        The source and its table, watermark and mapping.
    remote
        An open DB-API connection to the source; default opened from ``source.url`` (and
        closed afterwards).
    now
        Later dates are rejected as future; default now.
    on_error
        ``"quarantine"`` loads valid rows and advances the watermark past rejected ones
        (kept in ``import_quarantine``); ``"abort"`` writes nothing and keeps the watermark
        when any row is rejected.
    username
        Who started the sync, for the audit log; ``None`` for the system.

    Returns
    -------
    SyncResult
        Rows fetched, the validation report and the watermarks.

    Raises
    ------
    ValueError
        For unknown tables or columns in the source, or an unsupported URL.
    connectors.validation.ImportFileError
        When required columns cannot be mapped, or the load fails (nothing written).
    """
    dialect = source.dialect
    own = remote is None
    remote = connect_remote(source) if own else remote
    try:
        order_cols = _columns(remote, dialect, source.orders_table)
        if source.watermark not in order_cols:
            raise ValueError(
                f"{source.orders_table} has no column {source.watermark!r}; columns: "
                f"{', '.join(order_cols)}."
            )
        omap = mapping_.apply_mapping(order_cols, "orders", source.orders_mapping)
        okey = next((c for c, t in omap.items() if t == "order_id"), None)
        if okey is None:
            raise ValueError(f"No column of {source.orders_table} maps to order_id; map one.")
        # The boundary is inclusive; orders at exactly the last watermark that were already
        # seen (loaded or quarantined) are dropped here, so late commits at the same
        # timestamp are caught and nothing is read twice.
        start, seen = _state(con, source)
        q = lambda n: _quote(dialect, n)  # noqa: E731
        where, params = (
            ("", ()) if start is None else (f" WHERE o.{q(source.watermark)} >= %s", (start,))
        )
        orders = _fetch(
            remote,
            f"SELECT o.* FROM {q(source.orders_table)} o{where} ORDER BY o.{q(source.watermark)}",
            params,
        )
        if start is not None and len(orders):
            again = (orders[source.watermark] == start) & orders[okey].astype(str).isin(seen)
            orders = orders[~again].reset_index(drop=True)
        batch = {"orders": _stage(orders, "orders", source.orders_mapping)}
        items = pd.DataFrame()
        if source.items_table:
            item_cols = _columns(remote, dialect, source.items_table)
            imap = mapping_.apply_mapping(item_cols, "order_items", source.items_mapping)
            ikey = next((c for c, t in imap.items() if t == "order_id"), None)
            if ikey is None:
                raise ValueError(f"No column of {source.items_table} maps to order_id; map one.")
            items = _fetch(
                remote,
                f"SELECT i.* FROM {q(source.items_table)} i JOIN {q(source.orders_table)} o "
                f"ON o.{q(okey)} = i.{q(ikey)}{where}",
                params,
            )
            items = items[items[ikey].astype(str).isin(set(orders[okey].astype(str)))]
            batch["order_items"] = _stage(items, "order_items", source.items_mapping)
    finally:
        if own:
            remote.close()
    if not len(orders):
        empty = ImportReport("", f"sql:{source.name}", "")
        return SyncResult(source.name, start, start, 0, 0, empty)
    end = orders[source.watermark].max()
    at_end = orders[okey][orders[source.watermark] == end].astype(str).tolist()
    end = end.to_pydatetime() if hasattr(end, "to_pydatetime") else end
    # Several syncs within one watermark value accumulate their seen keys.
    seen_end = sorted(set(at_end) | (seen if end == start else set()))
    digest = hashlib.sha256()
    for frame in (orders, items):
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    report = validation.run(
        con,
        batch,
        source=f"sql:{source.name}",
        content_hash=digest.hexdigest(),
        now=now,
        on_error=on_error,
        meta={source.meta_key: _encode_wm(end, seen_end)},
    )
    if report.written:
        afterload.run(
            con,
            load_id=report.import_id,
            source=report.source,
            loaded=report.rows_loaded,
            rejected=report.rows_rejected,
            username=username,
        )
    return SyncResult(
        source.name,
        start,
        end if report.written else start,
        len(orders),
        len(items),
        report,
    )


@dataclass(frozen=True)
class SnapshotResult:
    """Outcome of :func:`sync_tables`.

    Attributes
    ----------
    source
        Source name.
    fetched
        ``{table: rows read}`` for each registry table found in the source.
    absent
        Registry tables the source does not have (nothing read for them).
    report
        The validation and load report of the whole batch.
    """

    source: str
    fetched: dict[str, int]
    absent: tuple[str, ...]
    report: ImportReport


def _source_tables(remote: Any, dialect: str) -> set[str]:
    """Names of the tables in the source's current schema (the identifier whitelist)."""
    current = "current_schema()" if dialect == "postgresql" else "database()"
    cur = remote.cursor()
    cur.execute(f"SELECT table_name FROM information_schema.tables WHERE table_schema = {current}")
    return {str(r[0]) for r in cur.fetchall()}


def sync_tables(
    con: duckdb.DuckDBPyConnection,
    source: SyncSource,
    remote: Any = None,
    *,
    tables: tuple[str, ...] | None = None,
    prefix: str = "",
    mappings: dict[str, dict[str, str]] | None = None,
    now: datetime | None = None,
    on_error: str = "quarantine",
    username: str | None = None,
) -> SnapshotResult:
    """Copy every input table of the registry from the source, then run the after-load step.

    Each table ``<prefix><table>`` found in the source is read whole and the tables are
    checked and loaded as one batch, parents first (:data:`connectors.tables.LOAD_ORDER`),
    with the file importer's checks and quarantine. Rows whose key is already in Linli are
    skipped, so a nightly run of the same snapshot adds only the new rows; rows changed at
    the source are not updated (an append sync, like :func:`sync`).

    Parameters
    ----------
    con
        Linli connection.
    source
        The source (its ``url`` and ``name``; the order-sync fields are not used).
    remote
        An open DB-API connection to the source; default opened from ``source.url``.
    tables
        Registry tables to read; default every table of :data:`connectors.tables.LOAD_ORDER`.
    prefix
        Prefix of the source's table names (``erp_`` for ``erp_orders``).
    mappings
        ``{table: {source column: Linli column}}`` overrides of the guessed mapping.
    now
        Later dates are rejected as future; default now.
    on_error
        ``"quarantine"`` or ``"abort"``, as for a file import.
    username
        Who started the sync, for the audit log.

    Returns
    -------
    SnapshotResult
        Rows read per table, the tables the source lacks and the load report.

    Raises
    ------
    ValueError
        For a table outside the registry or a bad prefix.
    connectors.validation.ImportFileError
        When required columns cannot be mapped, or the load fails (nothing written).
    """
    wanted = tuple(tables_.LOAD_ORDER if tables is None else tables)
    for t in wanted:
        tables_.spec(t)  # raises for a table that cannot be loaded
    dialect = source.dialect
    own = remote is None
    remote = connect_remote(source) if own else remote
    batch: dict[str, validation.Staged] = {}
    fetched: dict[str, int] = {}
    absent: list[str] = []
    digest = hashlib.sha256()
    try:
        present = _source_tables(remote, dialect)
        for t in [t for t in tables_.LOAD_ORDER if t in wanted]:
            name = prefix + t
            if name not in present:
                absent.append(t)
                continue
            frame = _fetch(remote, f"SELECT * FROM {_quote(dialect, name)}", ())
            fetched[t] = len(frame)
            if len(frame):
                digest.update(t.encode())
                digest.update(
                    pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes()
                )
                batch[t] = _stage(frame, t, (mappings or {}).get(t, {}))
    finally:
        if own:
            remote.close()
    if not batch:
        return SnapshotResult(
            source.name, fetched, tuple(absent), ImportReport("", f"sql:{source.name}", "")
        )
    report = validation.run(
        con,
        batch,
        source=f"sql:{source.name}",
        content_hash=digest.hexdigest(),
        now=now,
        on_error=on_error,
    )
    if report.written:
        afterload.run(
            con,
            load_id=report.import_id,
            source=report.source,
            loaded=report.rows_loaded,
            rejected=report.rows_rejected,
            username=username,
        )
    return SnapshotResult(source.name, fetched, tuple(absent), report)


def main(argv: list[str] | None = None) -> int:
    """Nightly snapshot sync: every registry table the source has, then the after-load step."""
    import argparse

    from engine import db as dbmod

    ap = argparse.ArgumentParser(prog="python -m connectors.sql", description=sync_tables.__doc__)
    ap.add_argument("--db", required=True, help="Linli DuckDB file (the app must be stopped)")
    ap.add_argument("--url", required=True, help="postgresql://… or mysql://… of the source")
    ap.add_argument("--name", default="erp", help="source name for the import log")
    ap.add_argument("--prefix", default="", help="prefix of the source's table names")
    args = ap.parse_args(argv)
    con = dbmod.connect(args.db)
    try:
        result = sync_tables(con, SyncSource(args.name, args.url), prefix=args.prefix)
    finally:
        con.close()
    rep = result.report
    for t in rep.tables:
        print(
            f"{t.table}: {t.rows_in} read, {t.rows_valid} valid, {t.rows_skipped} already "
            f"loaded, {t.rows_rejected} quarantined {dict(t.problems) or ''}"
        )
    if result.absent:
        print(f"not in the source: {', '.join(result.absent)}")
    return 0 if rep.rows_rejected == 0 else 2


if __name__ == "__main__":
    raise SystemExit(main())
