"""Per-user RFM and behavioural features from a per-user-day rollup of orders and lines.

One row per user who signed up on or before ``as_of``. Money is net of refunds (CNY);
cancelled orders never count. Behaviour is measured over a look-back window ending on
``as_of`` so that a two-year history does not dilute what a household does now.

The features read ``rollup_user_days`` (one row per user and buying day, built by
:func:`refresh_rollup` alongside the KPI rollups); when a database lacks it they run the
same aggregation inline, which is correct but slower on large data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope
from engine.segmentation import _inputs

# SKU tags whose purchases are evidence of a household trait (see tags.py).
EVIDENCE_TAGS = ("kids", "soft_food", "pet", "fitness", "imported")
RFM_BINS = 5
ROLLUP = "rollup_user_days"

_TAG_FLAGS = ", ".join(
    f"list_contains(tags, '{t}')::INTEGER AS t_{t}"
    for t in EVIDENCE_TAGS  # fixed whitelist
)
_TAG_SUMS = ", ".join(f"sum(i.qty * sk.t_{t}) AS units_{t}" for t in EVIDENCE_TAGS)
_TAG_DAY = ", ".join(f"sum(li.units_{t})::INTEGER AS units_{t}" for t in EVIDENCE_TAGS)

# One row per user and day with a non-cancelled order.
ROLLUP_SQL = f"""
WITH sk AS (SELECT sku_id, {_TAG_FLAGS} FROM skus),
li AS (
    SELECT i.order_id, count(*) AS lines, sum(i.qty) AS units,
           sum(i.qty * i.unit_price) AS gross, sum(i.qty * i.list_price) AS list_value,
           sum((i.qty - i.refund_qty) * i.unit_price) AS monetary,
           sum((i.qty - i.refund_qty) * (i.unit_price - i.unit_cost)) AS margin,
           sum(CASE WHEN i.unit_price < i.list_price THEN 1 ELSE 0 END) AS disc_lines,
           {_TAG_SUMS}
    FROM order_items i JOIN sk USING (sku_id)
    GROUP BY 1
)
SELECT o.user_id, o.community_id, o.order_date AS day, count(*)::INTEGER AS orders,
       sum(li.lines)::INTEGER AS lines, sum(li.units)::INTEGER AS units,
       sum(li.gross) AS gross, sum(li.list_value) AS list_value,
       sum(li.monetary) AS monetary, sum(li.margin) AS margin,
       sum(li.disc_lines)::INTEGER AS disc_lines, {_TAG_DAY}
FROM orders o JOIN li USING (order_id)
WHERE o.status <> 'cancelled'
GROUP BY ALL
"""

_SNAPSHOT_SQL = """
SELECT user_id,
       max(day) AS last_in_window,
       count(*) AS order_days,
       sum(orders) AS frequency,
       coalesce(sum(orders) FILTER (WHERE day > $d30), 0) AS orders_30d,
       coalesce(sum(orders) FILTER (WHERE day > $d90 AND day <= $d30), 0) AS orders_prev,
       min(day) AS first_in_window,
       list_extract(max(day, 2), 2) AS second_last_order,
       sum(lines) AS lines, sum(units) AS units, sum(gross) AS gross_value,
       sum(list_value) AS list_value, sum(monetary) AS monetary, sum(margin) AS margin,
       sum(disc_lines) AS disc_lines, {tags}
FROM {source}
WHERE day BETWEEN $start AND $end {scope}
GROUP BY 1
"""

# Last order before the window, only needed for users without an order inside it.
_LIFETIME_SQL = """
SELECT user_id, max(day) AS last_before_window
FROM {source}
WHERE day < $start {scope}
GROUP BY 1
"""

_CATEGORY_SQL = """
SELECT o.user_id, s.category, sum(i.qty * i.unit_price) AS value
FROM orders o JOIN order_items i USING (order_id) JOIN skus s USING (sku_id)
WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ? {scope}
GROUP BY ALL
"""

_USERS_SQL = """
SELECT u.user_id, u.community_id, c.region_id, u.signup_date, u.age_band,
       u.has_children, u.has_pet
FROM users u JOIN communities c USING (community_id)
WHERE u.signup_date <= ? {scope}
ORDER BY u.user_id
"""


def refresh_rollup(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build ``rollup_user_days``; call it where the KPI rollups are refreshed.

    Parameters
    ----------
    con
        A writable connection.
    """
    con.execute(f"CREATE OR REPLACE TABLE {ROLLUP} AS SELECT * FROM ({ROLLUP_SQL}) ORDER BY day")


def ensure_rollup(con: duckdb.DuckDBPyConnection) -> bool:
    """Build ``rollup_user_days`` when it is missing or does not match the orders.

    The check compares the number of non-cancelled orders and the last order day with the
    rollup's; a change inside existing orders (a late refund) needs :func:`refresh_rollup`.

    Parameters
    ----------
    con
        A connection; when it cannot write, nothing is built and the features fall back
        to the inline aggregation.

    Returns
    -------
    bool
        True when the rollup is present and current afterwards.
    """
    src = source(con)
    if src.startswith('"'):
        want = con.execute(
            "SELECT count(*), max(order_date) FROM orders WHERE status <> 'cancelled'"
        ).fetchall()[0]
        have = con.execute(f"SELECT coalesce(sum(orders), 0), max(day) FROM {src}").fetchall()[0]
        if tuple(have) == tuple(want):
            return True
    try:
        refresh_rollup(con)
    except duckdb.Error:  # read-only file: stay on the inline aggregation
        return False
    return True


def source(con: duckdb.DuckDBPyConnection) -> str:
    """The FROM item for per-user-day data: the rollup when present, else the inline SQL."""
    rows = con.execute(
        "SELECT database_name, schema_name FROM duckdb_tables() WHERE table_name = ? "
        "ORDER BY database_name = current_database() DESC LIMIT 1",
        [ROLLUP],
    ).fetchall()
    if rows:
        db, schema = rows[0]
        return f'"{db}"."{schema}"."{ROLLUP}"'  # names from the catalogue, not from users
    return f"({ROLLUP_SQL}) AS user_days"


def _scope_sql(comms: list[int] | None, col: str) -> tuple[str, list]:
    # Only the fixed column name is interpolated; the ids are bound.
    if comms is None:
        return "", []
    return f"AND list_contains(?::INTEGER[], {col})", [comms]


def user_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    lookback_days: int = 180,
    regions: Sequence[int] = (),
    communities: Sequence[int] = (),
    with_categories: bool = False,
    lifetime: bool = True,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """RFM scores and behavioural features per user.

    Parameters
    ----------
    con
        Connection to a Linli database.
    as_of
        Last day of history to use; default the world's ``as_of``.
    lookback_days
        Length of the behaviour window ending on ``as_of``.
    regions, communities
        Restrict to these region / community ids (empty = all).
    with_categories
        Add ``share_<category>`` columns (share of the user's spend per category in the
        window); this reads order lines and is the slowest part on large data.
    scope
        The caller's row scope; users outside it are never returned.

    Returns
    -------
    pandas.DataFrame
        One row per user: ids, ``signup_date``, ``tenure_days``, ``recency_days`` (NaN
        when the user never ordered), ``frequency`` (orders) and ``monetary`` in the
        window, ``r_score``/``f_score``/``m_score`` (1–5 quantile scores, 0 for no orders
        in the window) and ``rfm``; ``lines_per_order``, ``basket_value``,
        ``discount_share`` (share of lines bought below list price), ``discount_depth``,
        ``imported_share``, ``interval_days``, ``trend`` (order rate of the last 30 days
        over the 60 before), ``last_gap_ratio``, ``margin`` and ``units_<tag>``.

    Raises
    ------
    ValueError
        For unknown ids or a non-positive look-back.
    """
    end = clock.as_of(con, as_of)
    start, _ = _inputs.window(end, lookback_days)
    scoped = _inputs.restriction(con, regions, communities, scope)
    u_sql, u_par = _scope_sql(scoped, "u.community_id")
    users = con.execute(_USERS_SQL.format(scope=u_sql), [end, *u_par]).df()
    in_scope = "AND list_contains($comms::INTEGER[], community_id)" if scoped is not None else ""
    tags = ", ".join(f"sum(units_{t}) AS units_{t}" for t in EVIDENCE_TAGS)
    par: dict = {
        "start": start,
        "end": end,
        "d30": end - timedelta(days=30),
        "d90": end - timedelta(days=90),
    }
    if scoped is not None:
        par["comms"] = scoped
    src = source(con)
    snap = con.execute(_SNAPSHOT_SQL.format(source=src, scope=in_scope, tags=tags), par).df()
    df = users.merge(snap, on="user_id", how="left")
    if lifetime:
        par_l = {k: v for k, v in par.items() if k in ("start", "comms")}
        life = con.execute(_LIFETIME_SQL.format(source=src, scope=in_scope), par_l).df()
        df = df.merge(life, on="user_id", how="left")
        df["last_order"] = df["last_in_window"].fillna(df["last_before_window"])
        df = df.drop(columns=["last_before_window"])
    else:
        df["last_order"] = df["last_in_window"]
    df = _derive(df, end, start)
    if with_categories:
        o_sql, o_par = _scope_sql(scoped, "o.community_id")
        cats = con.execute(_CATEGORY_SQL.format(scope=o_sql), [start, end, *o_par]).df()
        wide = cats.pivot_table(index="user_id", columns="category", values="value", aggfunc="sum")
        wide = wide.div(wide.sum(axis=1), axis=0).fillna(0.0)
        wide.columns = [f"share_{c}" for c in wide.columns]
        df = df.merge(wide, left_on="user_id", right_index=True, how="left")
        df[list(wide.columns)] = df[list(wide.columns)].fillna(0.0)
    df.attrs["as_of"] = end
    df.attrs["window_start"] = start
    return df


def _derive(df: pd.DataFrame, end: date, start: date) -> pd.DataFrame:
    end_ts = pd.Timestamp(end)
    df = df.drop(columns=["last_in_window"])
    for col in ("signup_date", "last_order", "first_in_window", "second_last_order"):
        df[col] = pd.to_datetime(df[col])
    count_cols = ["frequency", "orders_30d", "orders_prev", "order_days", "lines", "units"]
    count_cols += ["disc_lines"] + [f"units_{t}" for t in EVIDENCE_TAGS]
    for col in count_cols:
        df[col] = df[col].fillna(0).astype("int64")
    for col in ("gross_value", "list_value", "monetary", "margin"):
        df[col] = df[col].fillna(0.0).astype(float)
    df["tenure_days"] = (end_ts - df["signup_date"]).dt.days.astype("int64")
    df["recency_days"] = (end_ts - df["last_order"]).dt.days.astype(float)
    freq = df["frequency"].to_numpy(dtype=float)
    lines = df["lines"].to_numpy(dtype=float)
    second = df["second_last_order"]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["lines_per_order"] = np.where(freq > 0, lines / freq, np.nan)
        df["basket_value"] = np.where(freq > 0, df["gross_value"] / freq, np.nan)
        df["units_per_line"] = np.where(lines > 0, df["units"] / lines, np.nan)
        df["discount_share"] = np.where(lines > 0, df["disc_lines"] / lines, np.nan)
        df["discount_depth"] = np.where(
            df["list_value"] > 0, 1 - df["gross_value"] / df["list_value"], np.nan
        )
        df["imported_share"] = np.where(df["units"] > 0, df["units_imported"] / df["units"], 0.0)
        span = (df["last_order"] - df["first_in_window"]).dt.days.to_numpy(dtype=float)
        days = df["order_days"].to_numpy(dtype=float)
        df["interval_days"] = np.where(days > 1, span / (days - 1), np.nan)
        # Rates per day: last 30 days vs the 60 days before, over the days the user existed.
        first_seen = np.maximum(
            (df["signup_date"] - pd.Timestamp(end - timedelta(days=90))).dt.days.to_numpy(), 0
        )
        prev_days = np.clip(60 - first_seen, 0, 60)
        rate_prev = (df["orders_prev"].to_numpy() + 0.5) / np.maximum(prev_days, 1)
        rate_now = (df["orders_30d"].to_numpy() + 0.5) / 30.0
        df["trend"] = np.where(prev_days >= 14, rate_now / rate_prev, np.nan)
        # Was the user slowing down before the last order (a fade) or did they stop
        # suddenly? Last gap between buying days over the mean gap before it (window).
        last_gap = (df["last_order"] - second).dt.days.to_numpy(dtype=float)
        before = (second - df["first_in_window"]).dt.days.to_numpy(dtype=float)
        df["last_gap_ratio"] = np.where(days >= 3, last_gap / (before / (days - 2)), np.nan)
    _rfm(df)
    return df


def _rfm(df: pd.DataFrame) -> None:
    """Quintile scores among users with orders in the window (5 = best)."""
    buyers = (df["frequency"] > 0).to_numpy()
    for col, source_col, ascending in (
        ("r_score", "recency_days", False),
        ("f_score", "frequency", True),
        ("m_score", "monetary", True),
    ):
        pct = df.loc[buyers, source_col].rank(method="average", pct=True, ascending=ascending)
        score = np.zeros(len(df), dtype="int64")
        score[buyers] = np.ceil(pct.to_numpy() * RFM_BINS).clip(1, RFM_BINS).astype("int64")
        df[col] = score
    df["rfm"] = df["r_score"].astype(str) + df["f_score"].astype(str) + df["m_score"].astype(str)


def buyers_between(
    con: duckdb.DuckDBPyConnection, start: date, end: date, comms: list[int] | None = None
) -> set[int]:
    """Users with a non-cancelled order in ``[start, end]`` (the churn label)."""
    sql = f"SELECT DISTINCT user_id FROM {source(con)} WHERE day BETWEEN ? AND ?"
    par: list = [start, end]
    if comms is not None:
        sql += " AND list_contains(?::INTEGER[], community_id)"
        par.append(comms)
    return {r[0] for r in con.execute(sql, par).fetchall()}
