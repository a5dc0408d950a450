"""Daily rollup tables behind the KPIs, and their refresh.

Each rollup is an additive aggregate of a base table per day (or month) × community or
warehouse × category, so a KPI over any period and set of regions sums a few thousand rows
instead of scanning every order line. :func:`refresh_rollups` rebuilds them whenever the base
tables change (generator, imports).
"""

from __future__ import annotations

import duckdb

ROLLUPS = {
    # Net sales per day × community × category (cancelled orders excluded, refunds netted).
    "rollup_sales": """
        SELECT o.order_date AS day, o.community_id, c.region_id, s.category,
               sum((i.qty - i.refund_qty) * i.unit_price) AS gmv,
               sum((i.qty - i.refund_qty) * i.unit_cost) AS cogs,
               sum(i.qty - i.refund_qty) AS units,
               sum((i.qty - i.refund_qty) * i.unit_price * l.commission_rate) AS commission
        FROM order_items i
        JOIN orders o USING (order_id)
        JOIN skus s USING (sku_id)
        JOIN communities c ON c.community_id = o.community_id
        JOIN leaders l ON l.community_id = o.community_id
        WHERE o.status <> 'cancelled'
        GROUP BY ALL""",
    # Orders and fulfilment per day × community.
    "rollup_orders": """
        SELECT o.order_date AS day, o.community_id, c.region_id,
               count(*) FILTER (WHERE o.status = 'paid') AS paid_orders,
               count(*) FILTER (WHERE o.delivered_at IS NOT NULL) AS delivered,
               count(*) FILTER (WHERE o.delivered_at <= o.promised_by) AS on_time,
               count(*) FILTER (WHERE o.picked_up_at IS NOT NULL) AS picked,
               sum(epoch(o.picked_up_at - o.created_at) / 3600.0)
                   FILTER (WHERE o.picked_up_at IS NOT NULL) AS pickup_hours_sum
        FROM orders o JOIN communities c USING (community_id)
        GROUP BY ALL""",
    # Distinct buyers per day (a paid order that day).
    "rollup_buyer_days": """
        SELECT DISTINCT o.order_date AS day, o.user_id, c.region_id
        FROM orders o JOIN communities c USING (community_id)
        WHERE o.status = 'paid'""",
    "rollup_buyer_weeks": """
        SELECT DISTINCT date_trunc('week', o.order_date)::DATE AS day, o.user_id, c.region_id
        FROM orders o JOIN communities c USING (community_id)
        WHERE o.status = 'paid'""",
    "rollup_buyer_months": """
        SELECT DISTINCT date_trunc('month', o.order_date)::DATE AS month, o.user_id, c.region_id
        FROM orders o JOIN communities c USING (community_id)
        WHERE o.status = 'paid'""",
    # One row per buyer with a bitmask of the months they bought in (bit i = i months after
    # the first month with data; 64 months fit). Counting buyers over whole months becomes a
    # scan of one row per user instead of a distinct count over user-months.
    "rollup_buyer_bits": """
        WITH b AS (SELECT min(month) AS mbase, date_trunc('week', min(month))::DATE AS wbase
                   FROM rollup_buyer_months),
             m AS (SELECT user_id, region_id,
                          bit_or((1::UBIGINT) << datediff('month', b.mbase, month)::UBIGINT) AS months
                   FROM rollup_buyer_months, b
                   WHERE datediff('month', b.mbase, month) < 64 GROUP BY ALL),
             w AS (SELECT user_id,
                          bit_or((1::UHUGEINT) << (datediff('day', b.wbase, day) // 7)::UHUGEINT)
                              AS weeks
                   FROM rollup_buyer_weeks, b
                   WHERE datediff('day', b.wbase, day) // 7 < 128 GROUP BY ALL)
        SELECT m.user_id, m.region_id, m.months, coalesce(w.weeks, 0::UHUGEINT) AS weeks,
               b.mbase AS base, b.wbase AS week_base
        FROM m LEFT JOIN w USING (user_id), b""",
    # Additive repurchase counts: buyers of month m−1 (base) and those of them buying in m.
    # A user's region is their community's, so the counts add up over regions.
    "rollup_repurchase": """
        SELECT (a.month + INTERVAL 1 MONTH)::DATE AS month, a.region_id, count(*) AS base,
               count(b.user_id) AS repeat
        FROM (SELECT DISTINCT date_trunc('month', o.order_date)::DATE AS month, o.user_id,
                     c.region_id
              FROM orders o JOIN communities c USING (community_id) WHERE o.status = 'paid') a
        LEFT JOIN (SELECT DISTINCT date_trunc('month', order_date)::DATE AS month, user_id
                   FROM orders WHERE status = 'paid') b
               ON b.user_id = a.user_id AND b.month = a.month + INTERVAL 1 MONTH
        WHERE a.month + INTERVAL 1 MONTH <= (SELECT max(order_date) FROM orders)
        GROUP BY ALL""",
    "rollup_campaigns": """
        SELECT g.sale_date AS day, g.community_id, c.region_id, s.category,
               count(*) AS campaigns, count(*) FILTER (WHERE g.success) AS successes
        FROM campaigns g JOIN communities c USING (community_id) JOIN skus s USING (sku_id)
        GROUP BY ALL""",
    "rollup_stock": """
        SELECT v.stock_date AS day, v.warehouse_id, w.region_id, s.category,
               sum(v.on_hand * s.unit_cost) AS on_hand_value,
               sum(v.received * s.unit_cost) AS received_value,
               sum(v.sold * s.unit_cost) AS sold_value,
               sum(v.wasted * s.unit_cost) AS wasted_value
        FROM inventory v JOIN skus s USING (sku_id) JOIN warehouses w USING (warehouse_id)
        GROUP BY ALL""",
    "rollup_feedback": """
        SELECT f.feedback_date AS day, f.community_id, c.region_id, count(*) AS answers,
               count(*) FILTER (WHERE f.nps >= 9) AS promoters,
               count(*) FILTER (WHERE f.nps <= 6) AS detractors
        FROM feedback f JOIN communities c USING (community_id)
        GROUP BY ALL""",
}


# Sort keys: rollups are stored sorted so date filters skip whole row groups.
ORDER_BY = {
    "rollup_buyer_months": "month",
    "rollup_repurchase": "month",
    "rollup_buyer_bits": "user_id",
}


def refresh_rollups(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild every rollup table from the base tables, in one transaction.

    Parameters
    ----------
    con
        A writable connection.

    Raises
    ------
    duckdb.Error
        When a base table is missing or malformed; the previous rollups are kept.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        for name, sql in ROLLUPS.items():
            order = ORDER_BY.get(name, "day")
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM ({sql}) ORDER BY {order}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
