"""Text to typed values and problem flags, as DuckDB SQL and Arrow compute.

Imported cells arrive as text (CSV, Excel) or typed Arrow (Parquet, databases). These helpers
turn them into schema types with one vectorised expression per column, accepting the
spellings Chinese spreadsheets use (thousands separators, ¥, 2025年3月1日, 是/否, tag lists).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

NULLS = "['nan', 'null', 'none', 'nat', '<na>', 'n/a', '#n/a']"
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d",
)


# Commas only as thousands separators (1,299.50); "1,5" is not a number here, not 15.
_GROUPED = "'^-?[0-9]{1,3}(,[0-9]{3})+([.][0-9]+)?$'"


def _number(raw: str) -> str:
    """SQL text of a number without currency sign and thousands separators."""
    bare = f"replace(replace({raw}, '¥', ''), '￥', '')"
    return f"CASE WHEN regexp_matches({bare}, {_GROUPED}) THEN replace({bare}, ',', '') ELSE {bare} END"


def coerce(kind: str, raw: str, sqltype: str) -> str:
    """SQL turning the text ``raw`` (already NULL for blanks) into ``kind``.

    Each kind has a fast path for the plain spelling; coalesce() only evaluates the slower
    alternatives on the rows where it failed.

    Parameters
    ----------
    kind
        One of :data:`connectors.tables.KINDS`.
    raw
        SQL expression of the text (a column reference, not a large expression: it is
        repeated).
    sqltype
        The schema type for ``int`` columns (INTEGER or BIGINT).

    Returns
    -------
    str
        SQL yielding the typed value, NULL where the text cannot be read.
    """
    if kind == "int":
        plain = f"CASE WHEN NOT contains({raw}, '.') AND NOT contains(lower({raw}), 'e') THEN TRY_CAST({raw} AS {sqltype}) END"
        num = f"TRY_CAST({_number(raw)} AS DOUBLE)"
        # TRY_CAST('3.5' AS INT) rounds; a fractional quantity is a type error instead.
        slow = f"CASE WHEN {num} = floor({num}) THEN TRY_CAST({num} AS {sqltype}) END"
        return f"coalesce({plain}, {slow})"
    if kind == "minutes":
        # A minute of the day: 480, or the clock time 08:00.
        clock = f"try_strptime({raw}, '%H:%M')"
        return (
            f"coalesce({coerce('int', raw, sqltype)}, "
            f"CAST(hour({clock}) * 60 + minute({clock}) AS {sqltype}))"
        )
    if kind == "float":
        return f"coalesce(TRY_CAST({raw} AS DOUBLE), TRY_CAST({_number(raw)} AS DOUBLE))"
    if kind in ("date", "timestamp"):
        # ISO text (the common case) casts fast; the rest tries one format at a time (a
        # try_strptime() with a list of formats is ~50x slower per failing row).
        # 2025年3月1日 8:00 and 2025/3/1 become ISO by plain replacements.
        iso = f"trim(replace(replace(replace(replace({raw}, '年', '-'), '月', '-'), '日', ' '), '/', '-'))"
        tries = ", ".join(f"try_strptime({raw}, '{f}')" for f in DATE_FORMATS)
        ts = f"coalesce(TRY_CAST({raw} AS TIMESTAMP), TRY_CAST({iso} AS TIMESTAMP), {tries})"
        return f"CAST({ts} AS DATE)" if kind == "date" else ts
    if kind == "bool":
        return (
            f"CASE WHEN list_contains(['true', 't', '1', '1.0', 'yes', 'y', '是', '有'], lower({raw})) "
            f"THEN true WHEN list_contains(['false', 'f', '0', '0.0', 'no', 'n', '否', '无', '没有'], "
            f"lower({raw})) THEN false END"
        )
    if kind == "list":
        inner = f"regexp_replace({raw}, '^\\[|\\]$', '', 'g')"
        parts = f"string_split_regex({inner}, '\\s*[,;，；|]\\s*')"
        return (
            f"list_filter(list_transform({parts}, lambda x: trim(x, ' ''\"')), lambda x: x <> '')"
        )
    return raw


def clean(data: pa.Table) -> pa.Table:
    """Trim text columns and turn blanks and null words ("nan", "NULL", ...) into nulls.

    Parameters
    ----------
    data
        Imported columns; non-text columns pass through.

    Returns
    -------
    pyarrow.Table
        The cleaned table.
    """
    nulls = pa.array(json.loads(NULLS.replace("'", '"')))
    out = {}
    for name in data.column_names:
        col = data.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.utf8_trim_whitespace(col)
            # Null words are short: lower-case only the few values that could be one.
            short = pc.less_equal(pc.utf8_length(col), 4)
            if pc.any(short).as_py():
                word = pc.is_in(pc.utf8_lower(pc.if_else(short, col, "")), value_set=nulls)
                bad = pc.or_(word, pc.equal(col, ""))
                col = pc.if_else(bad, pa.scalar(None, col.type), col)
        out[name] = col
    return pa.table(out)


# Arrow types a column of a kind may already have (a Parquet file, or text cast by precast()).
_ARROW = {
    "int": pa.int64(),
    "minutes": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "bool": pa.bool_(),
}


def precast(data: pa.Table, kinds: dict[str, str]) -> pa.Table:
    """Cast each text column whose every value is in the plain spelling Arrow reads (12, 3.5,
    2025-03-01, 2025-03-01 08:00:05, true) to its kind's type, in one vectorised pass; the
    SQL coercion (:func:`coerce`), which tries every spelling, then has nothing to parse. A
    column with any other spelling is left as text for it. Run before :func:`clean` it spares
    the trimming of such columns (a padded value fails the cast); run after it, it catches
    columns that were plain once trimmed.

    Parameters
    ----------
    data
        Cleaned columns (see :func:`clean`).
    kinds
        ``{column: kind}``.

    Returns
    -------
    pyarrow.Table
        The table with plain-spelled columns typed.
    """
    out = {}
    for name in data.column_names:
        col = data.column(name)
        target = _ARROW.get(kinds.get(name, ""))
        if target is not None and (
            pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        ):
            try:
                cast = pc.cast(col, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                cast = None  # another spelling somewhere: the SQL coercion reads it
            if cast is not None and pa.types.is_floating(target):
                cast = pc.if_else(pc.is_nan(cast), pa.scalar(None, target), cast)  # "nan" is empty
            col = col if cast is None else cast
        out[name] = col
    return pa.table(out)


def typed(kind: str, name: str, arrow_type: pa.DataType, sqltype: str) -> str | None:
    """SQL for a column already of the kind's Arrow type (or ``None``): a plain cast, whose
    failure (an id too large for INTEGER) leaves NULL and is flagged as a bad type."""
    ok = {
        "int": pa.types.is_integer,
        "minutes": pa.types.is_integer,
        "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
        "date": pa.types.is_date,
        "timestamp": lambda t: pa.types.is_timestamp(t) and t.tz is None,
        "bool": pa.types.is_boolean,
    }.get(kind)
    if ok is None or not ok(arrow_type):
        return None
    return f"TRY_CAST({name} AS {sqltype})"


class Reasons:
    """Problem names and their bits: rows carry a BIGINT of flags, cheap to compute for every
    row; the list of names is built only for the few rows with a problem."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def bit(self, name: str) -> int:
        """The bit of problem ``name`` (allocated on first use)."""
        if name not in self.names:
            if len(self.names) >= 62:
                raise ValueError("Too many distinct checks for one table")
            self.names.append(name)
        return 1 << self.names.index(name)

    def flag(self, name: str, condition: str) -> str:
        """SQL worth the problem's bit when ``condition`` holds, else 0."""
        return f"(CASE WHEN {condition} THEN {self.bit(name)} ELSE 0 END)"

    def sum(self, flags: list[str]) -> str:
        """SQL adding flags into one BIGINT (bits are distinct, so + is |)."""
        return " + ".join(flags) if flags else "0"

    def names_sql(self, bits: str) -> str:
        """SQL listing the problem names whose bits are set in the column ``bits``."""
        items = ", ".join(
            f"CASE WHEN ({bits} & {1 << i}) <> 0 THEN '{n}' END" for i, n in enumerate(self.names)
        )
        return f"list_filter([{items}], lambda x: x IS NOT NULL)" if items else "[]::VARCHAR[]"
