"""Reading what the pricing models learn from: campaigns with their order lines and traffic.

Besides its order lines, each campaign carries its lines bought together with a strong
complement (steak and its pepper sauce, baby formula and baby cereal; see :func:`attachments`).
A sauce added because the steak is in the basket follows the steak, not its own price, so the
elasticity fit leaves those lines out (of both partners: which one drives the other cannot be
told from baskets alone, and leaving out a fixed share of a SKU's own purchases keeps its slope).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import clock
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

# Non-cancelled order lines in a date range and a list of communities (NULL = all): the base
# of the attachment queries.
_LINES = """
SELECT o.order_id, o.community_id, o.order_date AS sale_date, i.sku_id
FROM order_items i JOIN orders o USING (order_id)
WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ?
  AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], o.community_id))
"""

# Candidate pairs (a, c): bought together in at least ``?`` orders and in at least ``?`` of all
# orders holding a (a cheap bound that spares the listing join for the thousands of weak pairs);
# then the orders holding a, those holding c and all orders over the community-days listing both.
_PAIRS = f"""
WITH li AS ({_LINES}),
n_sku AS (SELECT sku_id, count(*) AS n FROM li GROUP BY 1),
together AS (
    SELECT p.a, p.c, p.n_ac
    FROM (
        SELECT a.sku_id AS a, c.sku_id AS c, count(*) AS n_ac
        FROM li a JOIN li c ON a.order_id = c.order_id AND a.sku_id <> c.sku_id
        GROUP BY ALL
        HAVING count(*) >= ?
    ) p
    JOIN n_sku ON n_sku.sku_id = p.a
    WHERE p.n_ac >= ? * n_sku.n
),
per AS (SELECT community_id, sale_date, sku_id, count(*) AS n FROM li GROUP BY ALL),
traffic AS (SELECT community_id, sale_date, count(DISTINCT order_id) AS n FROM li GROUP BY ALL)
SELECT t.a, t.c, any_value(t.n_ac) AS n_ac, coalesce(sum(pa.n), 0) AS n_a,
       coalesce(sum(pc.n), 0) AS n_c, sum(tr.n) AS n
FROM together t
JOIN campaigns ka ON ka.sku_id = t.a AND ka.sale_date BETWEEN ? AND ?
JOIN campaigns kc ON kc.sku_id = t.c AND kc.community_id = ka.community_id
                 AND kc.sale_date = ka.sale_date
JOIN traffic tr ON tr.community_id = ka.community_id AND tr.sale_date = ka.sale_date
LEFT JOIN per pa ON pa.community_id = ka.community_id AND pa.sale_date = ka.sale_date
                AND pa.sku_id = t.a
LEFT JOIN per pc ON pc.community_id = ka.community_id AND pc.sale_date = ka.sale_date
                AND pc.sku_id = t.c
GROUP BY ALL
"""

# Per campaign of c: its lines in orders that also hold one of c's partners.
_ATTACHED = f"""
WITH li AS ({_LINES}),
hit AS (
    SELECT DISTINCT l.order_id, l.community_id, l.sale_date, l.sku_id
    FROM li l
    JOIN _pricing_pairs p ON p.c = l.sku_id
    JOIN li o ON o.order_id = l.order_id AND o.sku_id = p.a
)
SELECT community_id, sale_date, sku_id, count(*) AS attached_lines
FROM hit GROUP BY ALL
"""

ATTACH_RATE = 0.3  # share of a's orders that add c beyond c's own rate, to call c attached
ATTACH_Z = 5.0  # and the excess must be this many standard errors (no chance pairs)
ATTACH_MIN_ORDERS = 30  # orders holding both, to consider a pair at all
# ... and the share of all of a's orders that hold c: below it c is listed with a too seldom
# (or added too rarely) for the pair to matter. 0.1 admits an attach rate of 0.3 when c is
# listed on a third of a's days.
ATTACH_MIN_SHARE = 0.1

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


def span_days(con: duckdb.DuckDBPyConnection) -> int:
    """Number of days from the first to the last campaign (0 when there are none)."""
    first, last = con.execute("SELECT min(sale_date), max(sale_date) FROM campaigns").fetchall()[0]
    return (last - first).days + 1 if first is not None else 0


def window(con: duckdb.DuckDBPyConnection, end: date | None, days: int) -> tuple[date, date]:
    """The ``days``-long window ending at ``end`` (default: the world's as-of date)."""
    if days < 7:
        raise ValueError(f"the training window must be at least 7 days, got {days}")
    end = clock.as_of(con, end)
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
    frame = scope.keep(con, table).reset_index(drop=True)
    pairs = attachments(con, start, end, scope)
    frame["attached_lines"] = 0
    if pairs.empty or frame.empty:
        return frame
    both = pd.concat([pairs[["a", "c"]], pairs[["c", "a"]].set_axis(["a", "c"], axis=1)])
    cur = con.cursor()
    comms = scope.communities(cur)
    cur.register("_pricing_pairs", both.drop_duplicates())
    try:
        att = cur.execute(_ATTACHED, [start, end, comms, comms]).df()
    finally:
        cur.unregister("_pricing_pairs")
    key = ["community_id", "sale_date", "sku_id"]
    att["sale_date"] = pd.to_datetime(att["sale_date"]).dt.date
    merged = frame[key].assign(sale_date=pd.to_datetime(frame["sale_date"]).dt.date)
    merged = merged.merge(att, on=key, how="left")
    frame["attached_lines"] = merged["attached_lines"].fillna(0).to_numpy(np.int64)
    return frame


def attachments(
    con: duckdb.DuckDBPyConnection, start: date, end: date, scope: Scope = ALL
) -> pd.DataFrame:
    """Pairs ``(a, c)`` where buying ``a`` adds ``c`` to the order beyond ``c``'s own appeal.

    Over the community-days listing both, ``p1 = P(c | a in the order)`` and
    ``p0 = P(c | a not in it)``; the attach rate ``(p1 - p0) / (1 - p0)`` is the share of
    ``a``'s orders that take ``c`` *because of* ``a``. A pair counts when that rate is at least
    :data:`ATTACH_RATE`, :data:`ATTACH_Z` standard errors clear of chance and seen together in
    :data:`ATTACH_MIN_ORDERS` orders (and in :data:`ATTACH_MIN_SHARE` of all of ``a``'s orders).
    A strong pair may show both ways (a sauce bought almost only with steak).

    Parameters
    ----------
    con
        Open Linli database.
    start, end
        Order-date range, inclusive.
    scope
        The caller's row scope; only orders of communities inside it are counted.

    Returns
    -------
    pandas.DataFrame
        ``a, c, n_ac, n_a, n_c, n, p1, p0, attach_rate, z``, strongest first.
    """
    comms = scope.communities(con)
    par = [start, end, comms, comms, ATTACH_MIN_ORDERS, ATTACH_MIN_SHARE, start, end]
    p = con.execute(_PAIRS, par).df()
    if p.empty:
        return p.assign(p1=[], p0=[], attach_rate=[], z=[])
    n_a, n_c, n_ac, n = (p[k].to_numpy(float) for k in ("n_a", "n_c", "n_ac", "n"))
    p1 = n_ac / np.maximum(n_a, 1)
    p0 = np.clip((n_c - n_ac) / np.maximum(n - n_a, 1), 0, 1 - 1e-9)
    se = np.sqrt(p1 * (1 - p1) / np.maximum(n_a, 1) + p0 * (1 - p0) / np.maximum(n - n_a, 1))
    p = p.assign(
        p1=p1, p0=p0, attach_rate=(p1 - p0) / (1 - p0), z=(p1 - p0) / np.maximum(se, 1e-12)
    )
    keep = (p["attach_rate"] >= ATTACH_RATE) & (p["z"] >= ATTACH_Z)
    return p[keep].sort_values("attach_rate", ascending=False).reset_index(drop=True)


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
