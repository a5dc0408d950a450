"""Checking a batch of imported rows and loading the valid ones in one transaction.

Every importer (files, operational databases) hands this module raw columns already renamed
to schema names, in any Arrow/pandas types. Coercion, checks and the load run as DuckDB SQL
over the whole batch (no per-row Python), so a million rows take seconds:

1. coerce each column to its kind (numbers with thousands separators, Chinese date formats,
   yes/no words, tag lists) and fill defaults and lookups (an order's community from its user);
2. flag each row's problems (bits of one integer, cheap for every row; the names are listed
   only for rows with a problem): ``bad_type:qty``, ``missing_value:user_id``,
   ``negative:qty``, ``future:created_at``, ``formula:name``, ``duplicate_in_file:order_id``,
   ``missing_reference:sku_id``, ``out_of_range:list_price`` (numbers and dates beyond
   :mod:`engine.limits`, NaN and infinities), ``unknown_value:status``, ``too_long:name``,
   ``exceeds:refund_qty``, ``before_signup:created_at``, and ``duplicate_in_db:order_id``
   for keys already present;
3. in one transaction insert the valid rows, the rejected ones into ``import_quarantine``
   and one ``import_log`` row per table; on any error nothing is written.

Rows whose only problem is ``duplicate_in_db`` are skipped, not quarantined: re-importing an
overlapping export, or syncing from a watermark inclusively, is not an error.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime

import duckdb
import pandas as pd
import pyarrow as pa

from connectors import coerce, tables
from connectors.reports import ImportFileError, ImportReport, Staged, TableReport
from engine import cells, limits

__all__ = ["ON_ERROR", "SKIP_REASON", "ImportFileError", "ImportReport", "Staged", "TableReport"]
__all__ += ["already_imported", "run"]

ON_ERROR = ("quarantine", "abort")
SKIP_REASON = "duplicate_in_db"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _q(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"Unsafe identifier {name!r}")
    return f'"{name}"'


def _schema_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[str, bool]]:
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = 'main'",
        [table],
    ).fetchall()
    return {r[0]: (r[1], r[2] == "YES") for r in rows}


def already_imported(con: duckdb.DuckDBPyConnection, content_hash: str) -> bool:
    """Whether ``import_log`` records content with this hash.

    Parameters
    ----------
    con
        Linli connection.
    content_hash
        SHA-256 hex digest of the content.

    Returns
    -------
    bool
        True when that content was imported before.
    """
    rows = con.execute(
        "SELECT count(*) FROM import_log WHERE content_hash = ?", [content_hash]
    ).fetchall()
    return rows[0][0] > 0


def run(
    con: duckdb.DuckDBPyConnection,
    batch: Mapping[str, Staged],
    *,
    source: str,
    content_hash: str,
    now: datetime | None = None,
    on_error: str = "quarantine",
    dry_run: bool = False,
    encoding: str | None = None,
    n_examples: int = 5,
    force: bool = False,
    meta: Mapping[str, str] | None = None,
) -> ImportReport:
    """Validate a batch and (unless a dry run) load its valid rows atomically.

    Parameters
    ----------
    con
        Connection to a Linli database.
    batch
        ``{table: Staged}``; tables are checked and loaded parents first, and a row may
        refer to a valid row of the same batch.
    source
        Name recorded in ``import_log``.
    content_hash
        Hash of the content; when ``import_log`` already has it, nothing is done.
    now
        Dates after this are rejected as future; default the current local time.
    on_error
        ``"quarantine"`` loads the valid rows and quarantines the rest; ``"abort"`` writes
        nothing when any row is rejected.
    dry_run
        Only validate; write nothing.
    encoding
        Detected encoding, copied into the report.
    n_examples
        Rows kept per problem in the report.
    force
        Check and load even when ``import_log`` has this content hash.
    meta
        ``meta`` rows to set in the same transaction as the rows (e.g. a sync watermark).

    Returns
    -------
    ImportReport
        Counts and examples per problem, and whether anything was written.

    Raises
    ------
    ImportFileError
        ``missing_columns`` when a required column is absent (nothing written), ``table``
        for an unknown table, ``load`` when the database refuses the rows (rolled back).
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    import_id = uuid.uuid4().hex[:16]
    if not force and already_imported(con, content_hash):
        return ImportReport(
            import_id, source, content_hash, already_imported=True, encoding=encoding
        )
    unknown = [t for t in batch if t not in tables.SPECS]
    if unknown:
        raise ImportFileError("table", f"Cannot import into {', '.join(unknown)}.")
    for table, staged in batch.items():
        missing = [c for c in tables.spec(table).required if c not in staged.data.column_names]
        if missing:
            raise ImportFileError(
                "missing_columns",
                f"{table}: required columns missing: {', '.join(missing)}. Found columns: "
                f"{', '.join([*staged.mapping, *staged.ignored]) or '(none)'}; map them "
                "explicitly.",
            )
    now = now or datetime.now()
    tok = uuid.uuid4().hex[:10]
    created: list[str] = []
    registered: list[str] = []
    reports: list[TableReport] = []
    try:
        for table in (t for t in tables.LOAD_ORDER if t in batch):
            reports.append(
                _check(con, table, batch[table], tok, now, n_examples, created, registered)
            )
        rejected = sum(r.rows_rejected for r in reports)
        write = not dry_run and not (on_error == "abort" and rejected)
        days: tuple[date, ...] = ()
        if write:
            days = _days(con, [r.table for r in reports], tok, created)
            columns = {r.table: batch[r.table].data.column_names for r in reports}
            _load(con, columns, reports, tok, import_id, source, content_hash, meta or {})
    finally:
        for name in reversed(created):
            kind = "VIEW" if name.endswith("_ok") else "TABLE"
            con.execute(f"DROP {kind} IF EXISTS {name}")
        for name in registered:
            con.unregister(name)
    return ImportReport(
        import_id, source, content_hash, tuple(reports), write, False, encoding, days
    )


def _days(
    con: duckdb.DuckDBPyConnection, names: list[str], tok: str, created: list[str]
) -> tuple[date, ...]:
    """The distinct days the batch's valid rows count for."""
    parts = []
    for table in names:
        spec = tables.spec(table)
        ok = f"_li_{tok}_{table}_ok"
        if spec.day:
            parts.append(f"SELECT DISTINCT {_q(spec.day)} AS d FROM {ok}")
        elif spec.day_via:
            via = spec.day_via
            src = _batch_union(con, via.table, tok, created)
            parts.append(
                f"SELECT DISTINCT p.{_q(via.column)} AS d FROM {ok} r "
                f"JOIN {src} p ON r.{_q(via.on)} = p.{_q(via.key)}"
            )
    if not parts:
        return ()
    rows = con.execute(
        f"SELECT DISTINCT d FROM ({' UNION ALL '.join(parts)}) WHERE d IS NOT NULL ORDER BY d"
    ).fetchall()
    return tuple(r[0] for r in rows)


def _batch_union(con: duckdb.DuckDBPyConnection, table: str, tok: str, created: list[str]) -> str:
    """SQL for a table's database rows plus the batch's valid rows."""
    ok = f"_li_{tok}_{table}_ok"
    if ok in created:
        cols = ", ".join(_q(c) for c in tables.spec(table).names)
        return f"(SELECT {cols} FROM {_q(table)} UNION ALL SELECT {cols} FROM {ok})"
    return _q(table)


def _check(
    con: duckdb.DuckDBPyConnection,
    table: str,
    staged: Staged,
    tok: str,
    now: datetime,
    n_examples: int,
    created: list[str],
    registered: list[str],
) -> TableReport:
    spec = tables.spec(table)
    types = _schema_types(con, table)
    present = [c for c in spec.names if c in staged.data.column_names]
    raw_name = f"_li_{tok}_{table}_raw"
    data = staged.data.select(present)
    rows = staged.row_numbers
    if rows is None:
        rows = pa.array(range(staged.first_row, staged.first_row + data.num_rows), pa.int64())
    data = data.append_column("_row", rows)
    con.register(raw_name, data)
    registered.append(raw_name)
    why = coerce.Reasons()

    # 1. blanks and null words become NULL, text is trimmed (Arrow compute, no copy). The
    # coercions then see plain columns: DuckDB hoists repeated subexpressions out of the lazy
    # coalesce() and would otherwise try every date format on every row.
    clean = f"_li_{tok}_{table}_clean"
    kinds = {c.name: c.kind for c in spec.columns}
    cleaned = coerce.precast(coerce.clean(coerce.precast(data, kinds)), kinds)
    con.register(clean, cleaned)
    registered.append(clean)
    # Inner level: typed values plus the text they came from; outer level: the flags, from
    # those columns (a flag written with the coercion inside would evaluate it twice).
    inner, outer, absent, flags = ["_row"], ["_row"], [], []
    for col in spec.columns:
        name = _q(col.name)
        sqltype = types[col.name][0]
        if col.name not in present:
            absent.append(f"CAST(NULL AS {sqltype}) AS {name}")
            continue
        outer.append(name)
        expr = coerce.typed(col.kind, name, cleaned.schema.field(col.name).type, sqltype)
        expr = expr or coerce.coerce(col.kind, f"CAST({name} AS VARCHAR)", sqltype)
        inner.append(f"{expr} AS {name}")
        if col.kind == "str":
            flags.append(why.flag(f"formula:{col.name}", cells.formula_sql(name)))
        else:
            if col.kind == "list":  # each tag on its own: an exported list is split again
                each = f"list_bool_or(list_transform({name}, lambda x: {cells.formula_sql('x')}))"
                flags.append(why.flag(f"formula:{col.name}", f"coalesce({each}, false)"))
            text = _q(f"_t_{col.name}")
            inner.append(f"{name} AS {text}")
            flags.append(why.flag(f"bad_type:{col.name}", f"{text} IS NOT NULL AND {name} IS NULL"))
    typed = f"_li_{tok}_{table}_typed"
    con.execute(
        f"CREATE TEMP TABLE {typed} AS SELECT {', '.join(outer)}, {why.sum(flags)} AS _tbits "
        f"FROM (SELECT {', '.join(inner)} FROM {clean})"
    )
    created.append(typed)
    # Absent columns join as constants after materialising, not as a million stored NULLs.
    query = f"SELECT *{''.join(', ' + a for a in absent)} FROM {typed}"

    # 2. defaults, then lookups, each seeing the columns filled before it.
    for col in spec.columns:
        if col.default is not None:
            name = _q(col.name)
            query = f"SELECT * REPLACE (coalesce({name}, {col.default}) AS {name}) FROM ({query})"
    for lk in spec.lookups:
        if lk.agg not in ("any_value", "min"):
            raise ValueError(f"Unsupported lookup aggregate {lk.agg!r}")
        src = _batch_union(con, lk.table, tok, created)
        query = (
            f"SELECT r.* REPLACE (coalesce(r.{_q(lk.column)}, l._v) AS {_q(lk.column)}) "
            f"FROM ({query}) r LEFT JOIN (SELECT {_q(lk.key)} AS _k, {lk.agg}({_q(lk.value)}) "
            f"AS _v FROM {src} GROUP BY 1) l ON r.{_q(lk.on)} = l._k"
        )

    # 3. references, then value checks, duplicates and keys already in the database.
    joins, rflags = [], []
    for i, ref in enumerate(spec.references):
        src = _batch_union(con, ref.table, tok, created)
        joins.append(
            f"LEFT JOIN (SELECT DISTINCT {_q(ref.key)} AS _k{i}, true AS _ref{i} FROM {src}) "
            f"ref{i} ON c.{_q(ref.column)} = ref{i}._k{i}"
        )
        cond = f"c.{_q(ref.column)} IS NOT NULL AND ref{i}._ref{i} IS NULL"
        rflags.append(why.flag(f"missing_reference:{ref.column}", cond))
    for i, nb in enumerate(spec.not_before):
        src = _batch_union(con, nb.table, tok, created)
        joins.append(
            f"LEFT JOIN (SELECT {_q(nb.key)} AS _nbk{i}, min({_q(nb.value)}) AS _nbv{i} "
            f"FROM {src} GROUP BY 1) nb{i} ON c.{_q(nb.on)} = nb{i}._nbk{i}"
        )
        cond = f"c.{_q(nb.column)} < nb{i}._nbv{i}"
        rflags.append(why.flag(f"before_{nb.reason}:{nb.column}", cond))
    checks, params = [], []
    required_ok = " AND ".join(f"c.{_q(c)} IS NOT NULL" for c in spec.required)
    for col in spec.columns:
        q = f"c.{_q(col.name)}"
        if col.required:
            bad = why.bit(f"bad_type:{col.name}")
            cond = f"{q} IS NULL AND (c._tbits & {bad}) = 0"
            checks.append(why.flag(f"missing_value:{col.name}", cond))
        elif not types[col.name][1]:
            # A derived value (default, lookup) is missing as a consequence when the row has
            # another problem; report the cause alone.
            cond = f"{q} IS NULL AND c._tbits = 0 AND c._rbits = 0 AND {required_ok}"
            checks.append(why.flag(f"missing_value:{col.name}", cond))
        if col.nonneg:
            # -inf is reported as out_of_range, not as a negative amount.
            finite = f" AND isfinite({q})" if col.kind == "float" else ""
            checks.append(why.flag(f"negative:{col.name}", f"{q} < 0{finite}"))
        if col.name in present:  # derived values inherit their source's problem
            checks += _bounds(why, col, q)
        if col.not_future:
            limit = "?::DATE" if col.kind == "date" else "?::TIMESTAMP"
            checks.append(why.flag(f"future:{col.name}", f"{q} > {limit}"))
            params.append(now.date() if col.kind == "date" else now)
    for col_name, other in spec.at_most:
        # A negative `other` is its own problem (`negative`), not this one.
        cond = f"c.{_q(col_name)} > c.{_q(other)} AND c.{_q(other)} >= 0"
        checks.append(why.flag(f"exceeds:{col_name}", cond))
    for rule in spec.checks:
        # Fixed SQL from the spec; the import's date is bound, once per mention.
        checks.append(why.flag(rule.reason, rule.condition.replace(":today", "?::DATE")))
        params += [now.date()] * rule.condition.count(":today")
    key_name = "+".join(spec.key)
    db_keys = ", ".join(f"{_q(k)}" for k in spec.key)
    # Repeated keys via a grouped subquery (far cheaper than a window over the whole batch).
    checks.append(why.flag(f"duplicate_in_file:{key_name}", "c._row > c._first"))
    checks.append(why.flag(f"{SKIP_REASON}:{key_name}", "c._hit"))
    joins.append(
        f"LEFT JOIN (SELECT {db_keys}, min(_row) AS _first FROM {typed} GROUP BY ALL "
        f"HAVING count(*) > 1) dup USING ({db_keys})"
    )
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {_q(table)} LIMIT 1)").fetchall()[0][0]:
        joins.append(
            f"LEFT JOIN (SELECT DISTINCT {db_keys}, true AS _hit FROM {_q(table)}) d "
            f"USING ({db_keys})"
        )
    else:  # an empty table (a first load) holds no key: spare the join
        joins.append("CROSS JOIN (SELECT CAST(NULL AS BOOLEAN) AS _hit) d")
    checked = f"_li_{tok}_{table}_checked"
    skip = why.bit(f"{SKIP_REASON}:{key_name}")
    # Three levels, so that no expression is repeated inside another (an alias used in the
    # same SELECT is inlined, and the 30 flag tests below would each copy every check).
    joined = (
        f"SELECT c.*, {why.sum(rflags)} AS _rbits, dup._first, d._hit "
        f"FROM ({query}) c {' '.join(joins)}"
    )
    bits = f"SELECT c.* EXCLUDE (_first, _hit), c._tbits + c._rbits + {why.sum(checks)} AS _bits FROM ({joined}) c"
    con.execute(
        f"CREATE TEMP TABLE {checked} AS SELECT * EXCLUDE (_tbits, _rbits), "
        f"_bits <> 0 AND _bits <> {skip} AS _rejected, "
        f"CASE WHEN _bits <> 0 THEN {why.names_sql('_bits')} END AS _why FROM ({bits})",
        params,
    )
    created.append(checked)

    # Valid rows become the batch's rows for later tables' references and lookups.
    ok = f"_li_{tok}_{table}_ok"
    cols = ", ".join(_q(c) for c in spec.names)
    con.execute(f"CREATE TEMP VIEW {ok} AS SELECT {cols} FROM {checked} WHERE _bits = 0")
    created.append(ok)
    return _summarise(con, table, staged, checked, raw_name, n_examples)


def _bounds(why: coerce.Reasons, col: tables.Column, q: str) -> list[str]:
    """Flags of a value beyond the limits of :mod:`engine.limits` (constants, not user data)."""
    out = []
    if col.kind in ("int", "float") and (col.lo is not None or col.hi is not None):
        parts = [f"NOT isfinite({q})"] if col.kind == "float" else []
        if col.hi is not None:
            parts.append(f"{q} > {float(col.hi)!r}")
        if col.lo is not None and not col.nonneg:  # below 0 is already `negative`
            parts.append(f"{q} < {float(col.lo)!r}")
        cond = f"{q} IS NOT NULL AND ({' OR '.join(parts)})"
        out.append(why.flag(f"out_of_range:{col.name}", cond))
    elif col.kind in ("date", "timestamp"):
        lo, hi = limits.DATE_MIN.isoformat(), limits.DATE_MAX.isoformat()
        cond = f"({q} < DATE '{lo}' OR {q} > DATE '{hi}')"
        out.append(why.flag(f"out_of_range:{col.name}", cond))
    elif col.kind == "str":
        out.append(
            why.flag(f"too_long:{col.name}", f"length({q}) > {limits.IMPORT_MAX_TEXT_CHARS}")
        )
        if col.choices:
            allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in col.choices)
            cond = f"{q} IS NOT NULL AND NOT list_contains([{allowed}], {q})"
            out.append(why.flag(f"unknown_value:{col.name}", cond))
    return out


def _summarise(
    con: duckdb.DuckDBPyConnection,
    table: str,
    staged: Staged,
    checked: str,
    raw_name: str,
    n_examples: int,
) -> TableReport:
    n_in, n_ok, n_skip = con.execute(
        f"SELECT count(*), count(*) FILTER (_bits = 0), "
        f"count(*) FILTER (_bits <> 0 AND NOT _rejected) FROM {checked}"
    ).fetchall()[0]
    problems = dict(
        con.execute(
            f"SELECT reason, count(*) FROM (SELECT unnest(_why) AS reason FROM {checked} "
            "WHERE _bits <> 0) "
            "GROUP BY reason ORDER BY count(*) DESC, reason"
        ).fetchall()
    )
    examples: dict[str, pd.DataFrame] = {}
    if problems:
        ex = con.execute(
            f"WITH r AS (SELECT _row, unnest(_why) AS _reason FROM {checked} WHERE _bits <> 0), "
            "k AS (SELECT *, row_number() OVER (PARTITION BY _reason ORDER BY _row) AS _n FROM r) "
            f"SELECT k._reason, raw.* FROM k JOIN {raw_name} raw USING (_row) "
            "WHERE k._n <= ? ORDER BY k._reason, raw._row",
            [n_examples],
        ).df()
        ex = ex.rename(columns={"_row": "row"})
        for reason, frame in ex.groupby("_reason", sort=False):
            examples[str(reason)] = frame.drop(columns="_reason").reset_index(drop=True)
    return TableReport(
        table=table,
        rows_in=int(n_in),
        rows_valid=int(n_ok),
        rows_rejected=int(n_in - n_ok - n_skip),
        rows_skipped=int(n_skip),
        problems={str(k): int(v) for k, v in problems.items()},
        examples=examples,
        mapping=dict(staged.mapping),
        ignored=tuple(staged.ignored),
    )


def _load(
    con: duckdb.DuckDBPyConnection,
    rep_columns: dict[str, list[str]],
    reports: list[TableReport],
    tok: str,
    import_id: str,
    source: str,
    content_hash: str,
    meta: Mapping[str, str],
) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for rep in reports:
            table = rep.table
            cols = ", ".join(_q(c) for c in tables.spec(table).names)
            checked = f"_li_{tok}_{table}_checked"
            raw = f"_li_{tok}_{table}_raw"
            present = [c for c in tables.spec(table).names if c in rep_columns[table]]
            fields = ", ".join(f"{_q(c)} := raw.{_q(c)}" for c in present)
            con.execute(
                f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {checked} WHERE _bits = 0"
            )
            con.execute(
                "INSERT INTO import_quarantine "
                f"SELECT ? || ':' || ?, ?, c._row, array_to_string(c._why, '; '), "
                f"to_json(struct_pack({fields})) "
                f"FROM {checked} c JOIN {raw} raw USING (_row) "
                "WHERE c._rejected",
                [import_id, table, table],
            )
            con.execute(
                "INSERT INTO import_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"{import_id}:{table}",
                    datetime.now(),
                    source,
                    table,
                    content_hash,
                    rep.rows_in,
                    rep.rows_valid,
                    rep.rows_rejected,
                ],
            )
        for key, value in meta.items():
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        raise ImportFileError(
            "load", f"The database refused the import; nothing was written: {exc}"
        ) from exc
