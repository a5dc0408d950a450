"""Per-user RFM and behavioural features from orders, order lines and stated attributes.

One row per user who signed up on or before ``as_of``. Money is net of refunds (CNY);
cancelled orders never count. Behaviour is measured over a look-back window ending on
``as_of`` so that a two-year history does not dilute what a household does now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine.segmentation import _scope

# SKU tags whose purchases are evidence of a household trait (see tags.py).
EVIDENCE_TAGS = ("kids", "soft_food", "pet", "fitness", "imported")
RFM_BINS = 5

_ORDERS_SQL = """
WITH b AS (
    SELECT o.user_id, o.order_date FROM orders o
    WHERE o.status <> 'cancelled' AND o.order_date <= ? {scope}
), l AS (SELECT user_id, max(order_date) AS last_order FROM b GROUP BY 1)
SELECT b.user_id,
       min(b.order_date) AS first_order,
       any_value(l.last_order) AS last_order,
       count(*) FILTER (WHERE b.order_date >= ?) AS orders,
       count(*) FILTER (WHERE b.order_date > ?) AS orders_30d,
       count(*) FILTER (WHERE b.order_date > ? AND b.order_date <= ?) AS orders_prev,
       min(b.order_date) FILTER (WHERE b.order_date >= ?) AS first_in_window,
       count(DISTINCT b.order_date) AS order_days,
       max(b.order_date) FILTER (WHERE b.order_date < l.last_order) AS second_last_order
FROM b JOIN l USING (user_id)
GROUP BY 1
"""

_LINES_SQL = """
SELECT o.user_id,
       count(*) AS lines,
       sum(i.qty) AS units,
       sum(i.qty * i.unit_price) AS gross_value,
       sum((i.qty - i.refund_qty) * i.unit_price) AS monetary,
       sum((i.qty - i.refund_qty) * (i.unit_price - i.unit_cost)) AS margin,
       avg(CASE WHEN i.unit_price < i.list_price THEN 1.0 ELSE 0.0 END) AS discount_share,
       1 - sum(i.qty * i.unit_price) / nullif(sum(i.qty * i.list_price), 0) AS discount_depth,
       {tag_cols}
FROM orders o JOIN order_items i USING (order_id) JOIN skus s USING (sku_id)
WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ? {scope}
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

    Returns
    -------
    pandas.DataFrame
        One row per user: ids, ``signup_date``, ``tenure_days``, ``recency_days`` (NaN
        when the user never ordered), ``frequency`` and ``monetary`` in the window,
        ``r_score``/``f_score``/``m_score`` (1–5 quantile scores, 0 for no orders in the
        window) and ``rfm``; ``lines_per_order``, ``basket_value``, ``discount_share``
        (share of lines bought below list price), ``discount_depth``, ``imported_share``,
        ``interval_days``, ``trend`` (order rate of the last 30 days over the 60 before),
        ``margin``, ``units_<tag>`` for the evidence tags and ``share_<category>``.

    Raises
    ------
    ValueError
        For unknown ids or a non-positive look-back.
    """
    end = _scope.as_of(con, as_of)
    start, _ = _scope.window(end, lookback_days)
    comms = _scope.communities(con, regions, communities)
    scoped = comms if (regions or communities) else None
    u_sql, u_par = _scope_sql(scoped, "u.community_id")
    users = con.execute(_USERS_SQL.format(scope=u_sql), [end, *u_par]).df()
    o_sql, o_par = _scope_sql(scoped, "o.community_id")
    d30 = end - timedelta(days=30)
    d90 = end - timedelta(days=90)
    orders = con.execute(
        _ORDERS_SQL.format(scope=o_sql), [end, *o_par, start, d30, d90, d30, start]
    ).df()
    tag_cols = ",\n       ".join(
        f"coalesce(sum(i.qty) FILTER (WHERE list_contains(s.tags, '{tag}')), 0) AS units_{tag}"
        for tag in EVIDENCE_TAGS  # fixed whitelist, not user input
    )
    lines = con.execute(
        _LINES_SQL.format(scope=o_sql, tag_cols=tag_cols), [start, end, *o_par]
    ).df()
    cats = con.execute(_CATEGORY_SQL.format(scope=o_sql), [start, end, *o_par]).df()

    df = users.merge(orders, on="user_id", how="left").merge(lines, on="user_id", how="left")
    return _derive(df, cats, end, start)


def _derive(df: pd.DataFrame, cats: pd.DataFrame, end: date, start: date) -> pd.DataFrame:
    end_ts = pd.Timestamp(end)
    for col in ("signup_date", "first_order", "last_order", "first_in_window", "second_last_order"):
        df[col] = pd.to_datetime(df[col])
    count_cols = ["orders", "orders_30d", "orders_prev", "lines", "units"]
    count_cols += ["order_days"]
    count_cols += [f"units_{t}" for t in EVIDENCE_TAGS]
    for col in count_cols:
        df[col] = df[col].fillna(0).astype("int64")
    for col in ("gross_value", "monetary", "margin"):
        df[col] = df[col].fillna(0.0).astype(float)
    df = df.rename(columns={"orders": "frequency"})
    df["tenure_days"] = (end_ts - df["signup_date"]).dt.days.astype("int64")
    df["recency_days"] = (end_ts - df["last_order"]).dt.days.astype(float)
    freq = df["frequency"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["lines_per_order"] = np.where(freq > 0, df["lines"] / freq, np.nan)
        df["basket_value"] = np.where(freq > 0, df["gross_value"] / freq, np.nan)
        df["units_per_line"] = np.where(df["lines"] > 0, df["units"] / df["lines"], np.nan)
        span = (df["last_order"] - df["first_in_window"]).dt.days.to_numpy(dtype=float)
        df["interval_days"] = np.where(freq > 1, span / (freq - 1), np.nan)
        # Rates per day: last 30 days vs the 60 days before, over the days the user existed.
        first_seen = np.maximum(
            (df["signup_date"] - pd.Timestamp(end - timedelta(days=90))).dt.days.to_numpy(), 0
        )
        prev_days = np.clip(60 - first_seen, 0, 60)
        rate_prev = (df["orders_prev"].to_numpy() + 0.5) / np.maximum(prev_days, 1)
        rate_now = (df["orders_30d"].to_numpy() + 0.5) / 30.0
        df["trend"] = np.where(prev_days >= 14, rate_now / rate_prev, np.nan)
        # Was the user slowing down before the last order (a fade) or did they stop
        # suddenly? Last gap between order days over the mean of the gaps before it.
        last_gap = (df["last_order"] - df["second_last_order"]).dt.days.to_numpy(dtype=float)
        before = (df["second_last_order"] - df["first_order"]).dt.days.to_numpy(dtype=float)
        n_days = df["order_days"].to_numpy(dtype=float)
        df["last_gap_ratio"] = np.where(n_days >= 3, last_gap / (before / (n_days - 2)), np.nan)
    wide = cats.pivot_table(index="user_id", columns="category", values="value", aggfunc="sum")
    wide = wide.div(wide.sum(axis=1), axis=0).fillna(0.0)
    wide.columns = [f"share_{c}" for c in wide.columns]
    df = df.merge(wide, left_on="user_id", right_index=True, how="left")
    share_cols = list(wide.columns)
    df[share_cols] = df[share_cols].fillna(0.0)
    df["imported_share"] = np.where(df["units"] > 0, df["units_imported"] / df["units"].clip(1), 0)
    _rfm(df)
    df.attrs["as_of"] = end
    df.attrs["window_start"] = start
    return df


def _rfm(df: pd.DataFrame) -> None:
    """Quintile scores among users with orders in the window (5 = best)."""
    buyers = df["frequency"] > 0
    for col, source, ascending in (
        ("r_score", "recency_days", False),
        ("f_score", "frequency", True),
        ("m_score", "monetary", True),
    ):
        pct = df.loc[buyers, source].rank(method="average", pct=True, ascending=ascending)
        score = np.ceil(pct * RFM_BINS).clip(1, RFM_BINS)
        df[col] = 0
        df.loc[buyers, col] = score.astype("int64")
    df["rfm"] = df["r_score"].astype(str) + df["f_score"].astype(str) + df["m_score"].astype(str)
