"""Reading what the pricing models learn from: campaigns with their order lines and traffic."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from engine import db as dbmod
from engine.auth import ALL, Scope

_CAMPAIGNS = """
WITH lines AS (
    SELECT i.campaign_id, count(*) AS lines
    FROM order_items i JOIN orders o USING (order_id)
    WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ?
    GROUP BY 1
),
traffic AS (
    SELECT community_id, order_date, count(*) AS n_orders
    FROM orders
    WHERE status <> 'cancelled' AND order_date BETWEEN ? AND ?
    GROUP BY ALL
)
SELECT c.campaign_id, c.community_id, c.sku_id, c.sale_date, c.price, c.list_price,
       c.threshold, c.stock_limit, c.units, c.sold_out, c.success,
       s.category, s.unit_cost, m.type AS community_type,
       coalesce(l.lines, 0) AS lines, coalesce(t.n_orders, 0) AS n_orders
FROM campaigns c
JOIN skus s USING (sku_id)
JOIN communities m USING (community_id)
LEFT JOIN lines l USING (campaign_id)
LEFT JOIN traffic t ON t.community_id = c.community_id AND t.order_date = c.sale_date
WHERE c.sale_date BETWEEN ? AND ?
ORDER BY c.campaign_id
"""

_SEGMENT_LINES = """
SELECT i.campaign_id, seg.segment, count(*) AS lines
FROM order_items i
JOIN orders o USING (order_id)
JOIN _pricing_segments seg ON seg.user_id = o.user_id
WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ?
  AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], o.community_id))
GROUP BY ALL
"""

_SEGMENT_TRAFFIC = """
SELECT o.community_id, o.order_date AS sale_date, seg.segment, count(*) AS n_orders
FROM orders o JOIN _pricing_segments seg ON seg.user_id = o.user_id
WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ?
  AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], o.community_id))
GROUP BY ALL
"""


def as_of(con: duckdb.DuckDBPyConnection) -> date:
    """Return the world's "today" (meta ``as_of``, else the last campaign day).

    Parameters
    ----------
    con
        Open Linli database.

    Returns
    -------
    date
        Last day with data.

    Raises
    ------
    ValueError
        When the database holds no campaigns.
    """
    val = dbmod.get_meta(con, "as_of")
    if val:
        return date.fromisoformat(str(val))
    last = con.execute("SELECT max(sale_date) FROM campaigns").fetchone()
    if last is None or last[0] is None:
        raise ValueError("no campaigns in the database: nothing to learn prices from")
    return last[0]


def span_days(con: duckdb.DuckDBPyConnection) -> int:
    """Number of days from the first to the last campaign (0 when there are none)."""
    first, last = con.execute("SELECT min(sale_date), max(sale_date) FROM campaigns").fetchone()
    return (last - first).days + 1 if first is not None else 0


def window(con: duckdb.DuckDBPyConnection, end: date | None, days: int) -> tuple[date, date]:
    """The ``days``-long window ending at ``end`` (default: the world's as-of date)."""
    if days < 7:
        raise ValueError(f"the training window must be at least 7 days, got {days}")
    end = end or as_of(con)
    return end - timedelta(days=days - 1), end


def campaigns(
    con: duckdb.DuckDBPyConnection, start: date, end: date, scope: Scope = ALL
) -> pd.DataFrame:
    """Campaigns in ``[start, end]`` with their order lines and the day's orders.

    Parameters
    ----------
    con
        Open Linli database.
    start, end
        Sale-date range, inclusive.
    scope
        The caller's row scope; campaigns of communities outside it are left out.

    Returns
    -------
    pandas.DataFrame
        One row per campaign: ids, prices, threshold, stock limit, units, success, category,
        unit cost, community type, ``lines`` (non-cancelled order lines) and ``n_orders``
        (non-cancelled orders in the community that day).
    """
    table = con.execute(_CAMPAIGNS, [start, end, start, end, start, end]).df()
    return scope.keep(con, table).reset_index(drop=True)


def segment_lines(
    con: duckdb.DuckDBPyConnection,
    segments: pd.DataFrame,
    start: date,
    end: date,
    scope: Scope = ALL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order lines per campaign and segment, and orders per community, day and segment.

    Parameters
    ----------
    con
        Open Linli database.
    segments
        ``user_id, segment`` (one segment per user).
    start, end
        Date range, inclusive.
    scope
        The caller's row scope; orders of communities outside it are not counted.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(campaign_id, segment, lines)`` and ``(community_id, sale_date, segment, n_orders)``.
    """
    cur = con.cursor()
    comms = scope.communities(cur)
    cur.register("_pricing_segments", segments[["user_id", "segment"]])
    try:
        lines = cur.execute(_SEGMENT_LINES, [start, end, comms, comms]).df()
        traffic = cur.execute(_SEGMENT_TRAFFIC, [start, end, comms, comms]).df()
    finally:
        cur.unregister("_pricing_segments")
    return lines, traffic


def catalogue(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """SKUs with category, list price, unit cost and shelf life, by ``sku_id``."""
    return con.execute(
        "SELECT sku_id, name, category, list_price, unit_cost, shelf_life_days "
        "FROM skus ORDER BY sku_id"
    ).df()


def communities(con: duckdb.DuckDBPyConnection, scope: Scope = ALL) -> pd.DataFrame:
    """Communities with type, region, warehouse and the leader's commission rate.

    Only communities inside the caller's row ``scope`` are returned.
    """
    table = con.execute(
        "SELECT m.community_id, m.name, m.type, m.region_id, m.warehouse_id, "
        "coalesce(avg(l.commission_rate), 0) AS commission_rate "
        "FROM communities m LEFT JOIN leaders l USING (community_id) "
        "GROUP BY ALL ORDER BY m.community_id"
    ).df()
    return scope.keep(con, table).reset_index(drop=True)


SEGMENT_COLUMNS = ("age_band", "channel", "has_children", "gender")


def user_segments(con: duckdb.DuckDBPyConnection, column: str, scope: Scope = ALL) -> pd.DataFrame:
    """Users labelled by one stated attribute, for per-segment elasticities.

    Parameters
    ----------
    con
        Open Linli database.
    column
        One of :data:`SEGMENT_COLUMNS` (users' stated age band, channel, children, gender).
    scope
        The caller's row scope; users of communities outside it are left out.

    Returns
    -------
    pandas.DataFrame
        ``user_id, segment``; users who did not state the attribute are left out.

    Raises
    ------
    ValueError
        For a column outside the whitelist.
    """
    if column not in SEGMENT_COLUMNS:
        raise ValueError(f"unknown segment column {column!r}; choose one of {SEGMENT_COLUMNS}")
    comms = scope.communities(con)
    return con.execute(
        f"SELECT user_id, CAST({column} AS VARCHAR) AS segment FROM users "  # whitelisted
        f"WHERE {column} IS NOT NULL "
        "AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], community_id))",
        [comms, comms],
    ).df()
