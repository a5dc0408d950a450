"""The SQL of the demand history: its daily sales, and its listings (from the campaigns table,
or derived from orders).

``{col}`` is a column of :data:`engine.forecasting.demand.LEVELS` (a whitelist), filled in by
the caller; the community restriction is bound twice as a parameter.
"""

# Listings per day, area and SKU: from the campaigns table (``col`` is a LEVELS column).
FROM_CAMPAIGNS = """
SELECT k.sale_date AS ds, c.{col} AS area, k.sku_id,
       count(*)::DOUBLE AS listed,
       avg(1 - k.price / k.list_price) AS discount,
       avg(k.threshold)::DOUBLE AS threshold,
       bool_or(k.sold_out) AS censored
FROM campaigns k JOIN communities c ON c.community_id = k.community_id
WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.community_id))
GROUP BY ALL
"""
# Without campaigns, a community that sold the SKU that day listed it, at the discount paid.
# Days a listing sold nothing are invisible in orders, and stock-outs are unknown (no
# censoring): the series then hold only days with sales for ``listed``. Group thresholds are
# unknown (NULL): the history then leaves the ``threshold`` column out.
FROM_ORDERS = """
SELECT o.order_date AS ds, c.{col} AS area, i.sku_id,
       count(DISTINCT o.community_id)::DOUBLE AS listed,
       greatest(0.0, 1 - sum(i.unit_price * i.qty)
           / nullif(sum(coalesce(i.list_price, s.list_price) * i.qty), 0)) AS discount,
       NULL::DOUBLE AS threshold,
       false AS censored
FROM order_items i
JOIN orders o USING (order_id)
JOIN skus s USING (sku_id)
JOIN communities c ON c.community_id = o.community_id
WHERE o.status <> 'cancelled'
  AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.community_id))
GROUP BY ALL
"""

# Demand per day × community × SKU (cancelled orders excluded; refunds count as demand). The
# batch build serves it as ``demand_daily`` (engine.lake.formulas); the history reads that
# table where it is served, else this query.
DEMAND_DAILY_SQL = """
SELECT o.order_date AS ds, o.community_id, i.sku_id, sum(i.qty)::DOUBLE AS y
FROM order_items i
JOIN orders o USING (order_id)
WHERE o.status <> 'cancelled'
GROUP BY ALL
"""
# The history's sales per area (``{col}`` a LEVELS column; ``{source}`` the served table
# ``demand_daily`` or the query above in parentheses).
SALES = """
SELECT d.ds, c.{col} AS area, d.sku_id, sum(d.y)::DOUBLE AS y
FROM {source} d JOIN communities c ON c.community_id = d.community_id
WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.community_id))
GROUP BY ALL
"""
SERVED = "demand_daily"
