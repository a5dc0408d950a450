"""Executive KPIs, each defined once (docs/metrics.md), computed from daily rollup tables.

The rollups are rebuilt by :func:`refresh_rollups` whenever the base tables change
(generator, imports). Every KPI takes a date range and an optional set of region ids and
returns the value for that period; :func:`summary` adds the previous period of equal length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from engine.auth import ALL, Scope, ScopeError

# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Kpi:
    """One KPI's identity and presentation."""

    key: str
    unit: str  # money | count | pct | days | hours | score
    higher_is_better: bool


KPIS: tuple[Kpi, ...] = (
    Kpi("gmv", "money", True),
    Kpi("paid_orders", "count", True),
    Kpi("aov", "money", True),
    Kpi("active_buyers", "count", True),
    Kpi("repurchase_rate", "pct", True),
    Kpi("group_success_rate", "pct", True),
    Kpi("inventory_turnover_days", "days", False),
    Kpi("loss_rate", "pct", False),
    Kpi("on_time_rate", "pct", True),
    Kpi("pickup_hours", "hours", False),
    Kpi("nps", "score", True),
    Kpi("leader_commission", "money", True),
)
KPI_KEYS = tuple(k.key for k in KPIS)
GRAINS = {"day": "day", "week": "week", "month": "month"}

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


def _check(start: date, end: date, regions: Sequence[int], scope: Scope = ALL) -> list[int]:
    if start > end:
        raise ValueError(f"empty date range: start {start} is after end {end}")
    try:
        req = [int(r) for r in regions]
    except (TypeError, ValueError):
        raise ValueError(f"regions must be integer ids, got {regions!r}") from None
    if scope.warehouses is not None and scope.regions is None:
        # Rollups are kept per region: a warehouse-only scope cannot be cut from them.
        raise ScopeError("KPIs are kept per region; a warehouse-only scope cannot read them")
    return list(scope.clip_regions(req))


def _where(regions: list[int], col: str = "day") -> str:
    # Values are bound; only this fixed text is interpolated.
    w = f"{col} BETWEEN ? AND ?"
    if regions:
        w += " AND list_contains(?::INTEGER[], region_id)"
    return w


def _params(start: date, end: date, regions: list[int]) -> list:
    return [start, end, regions] if regions else [start, end]


def _one(con, sql: str, params: list) -> float | None:
    v = con.execute(sql, params).fetchall()[0][0]
    return None if v is None else float(v)


# --------------------------------------------------------------------------- KPI queries


def gmv(con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL) -> float:
    """Net GMV in CNY: Σ (qty − refund_qty) × unit_price over non-cancelled orders."""
    r = _check(start, end, regions, scope)
    return (
        _one(
            con,
            f"SELECT coalesce(sum(gmv), 0) FROM rollup_sales WHERE {_where(r)}",
            _params(start, end, r),
        )
        or 0.0
    )


def paid_orders(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float:
    """Orders with status ``paid`` (neither cancelled nor fully refunded)."""
    r = _check(start, end, regions, scope)
    return (
        _one(
            con,
            f"SELECT coalesce(sum(paid_orders), 0) FROM rollup_orders WHERE {_where(r)}",
            _params(start, end, r),
        )
        or 0.0
    )


def aov(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Average order value: GMV / paid orders; ``None`` without orders."""
    n = paid_orders(con, start, end, regions, scope)
    return gmv(con, start, end, regions, scope) / n if n else None


def active_buyers(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float:
    """Distinct users with at least one paid order in the period.

    The period is covered by whole months, then whole weeks, then single days, so the
    distinct count reads pre-deduplicated rows, not every order.
    """
    r = _check(start, end, regions, scope)
    parts, params = [], []
    base, wbase = _bits_base(con)
    reg = " AND list_contains(?::INTEGER[], region_id)" if r else ""
    for table, col, lo, hi in _cover(start, end):
        mask = None
        if table == "rollup_buyer_months" and base is not None:
            i0 = (lo.year - base.year) * 12 + lo.month - base.month
            i1 = (hi.year - base.year) * 12 + hi.month - base.month
            if i0 >= 0 and i1 < 64:
                mask, kind, cast = sum(1 << i for i in range(i0, i1 + 1)), "months", "UBIGINT"
        elif table == "rollup_buyer_weeks" and wbase is not None:
            i0, i1 = (lo - wbase).days // 7, (hi - wbase).days // 7
            if i0 >= 0 and i1 < 128:
                mask, kind, cast = sum(1 << i for i in range(i0, i1 + 1)), "weeks", "UHUGEINT"
        if mask is not None:
            parts.append(
                f"SELECT user_id FROM rollup_buyer_bits WHERE {kind} & ?::{cast} <> 0{reg}"
            )
            params += [mask] + ([r] if r else [])
        else:
            parts.append(f"SELECT user_id FROM {table} WHERE {_where(r, col)}")
            params += _params(lo, hi, r)
    sql = "SELECT count(DISTINCT user_id) FROM (" + " UNION ALL ".join(parts) + ")"
    return _one(con, sql, params) or 0.0


def _bits_base(con) -> tuple[date | None, date | None]:
    rows = con.execute("SELECT min(base), min(week_base) FROM rollup_buyer_bits").fetchall()
    return rows[0][0], rows[0][1]


def _cover(start: date, end: date) -> list[tuple[str, str, date, date]]:
    """Split [start, end] into whole months, whole weeks and leftover days (table, column)."""
    out: list[tuple[str, str, date, date]] = []
    m = start if start.day == 1 else _next_month(start)
    m_end = m
    while _next_month(m_end) - timedelta(days=1) <= end:
        m_end = _next_month(m_end)
    edges = [(start, end)]
    if m_end > m:
        out.append(("rollup_buyer_months", "month", m, m_end - timedelta(days=1)))
        edges = [(start, m - timedelta(days=1)), (m_end, end)]
    for a, b in edges:
        if a > b:
            continue
        w = a + timedelta(days=(7 - a.weekday()) % 7)  # first Monday on or after a
        w_end = w
        while w_end + timedelta(days=6) <= b:
            w_end += timedelta(days=7)
        if w_end > w:
            out.append(("rollup_buyer_weeks", "day", w, w_end - timedelta(days=1)))
            days = [(a, w - timedelta(days=1)), (w_end, b)]
        else:
            days = [(a, b)]
        out += [("rollup_buyer_days", "day", x, y) for x, y in days if x <= y]
    return out


def repurchase_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Monthly repurchase: of the buyers of month m−1, the share buying again in month m.

    Pooled over the calendar months m whose first day lies in the period (a period shorter
    than a month uses the month it starts in).
    """
    r = _check(start, end, regions, scope)
    m0 = start.replace(day=1)
    months_from = m0 if start.day == 1 or end < _next_month(m0) else _next_month(m0)
    return _one(
        con,
        "SELECT sum(repeat)::DOUBLE / nullif(sum(base), 0) FROM rollup_repurchase "
        f"WHERE {_where(r, 'month')}",
        _params(months_from, max(end, months_from), r),
    )


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def group_success_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """成团率: campaigns whose units reached the threshold / all campaigns."""
    r = _check(start, end, regions, scope)
    return _one(
        con,
        "SELECT sum(successes)::DOUBLE / nullif(sum(campaigns), 0) "
        f"FROM rollup_campaigns WHERE {_where(r)}",
        _params(start, end, r),
    )


def inventory_turnover_days(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Mean closing stock value / mean daily cost of goods sold, in days."""
    r = _check(start, end, regions, scope)
    return _one(
        con,
        "SELECT (sum(on_hand_value) / count(DISTINCT day)) / "
        "nullif(sum(sold_value) / count(DISTINCT day), 0) "
        f"FROM rollup_stock WHERE {_where(r)}",
        _params(start, end, r),
    )


def loss_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Wasted stock at cost / received stock at cost."""
    r = _check(start, end, regions, scope)
    return _one(
        con,
        "SELECT sum(wasted_value) / nullif(sum(received_value), 0) "
        f"FROM rollup_stock WHERE {_where(r)}",
        _params(start, end, r),
    )


def on_time_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Delivered orders at the pickup point by the promised time / delivered orders."""
    r = _check(start, end, regions, scope)
    return _one(
        con,
        "SELECT sum(on_time)::DOUBLE / nullif(sum(delivered), 0) "
        f"FROM rollup_orders WHERE {_where(r)}",
        _params(start, end, r),
    )


def pickup_hours(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Mean hours from order to customer pickup, over picked-up orders."""
    r = _check(start, end, regions, scope)
    return _one(
        con,
        "SELECT sum(pickup_hours_sum) / nullif(sum(picked), 0) "
        f"FROM rollup_orders WHERE {_where(r)}",
        _params(start, end, r),
    )


def nps(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Net promoter score: (promoters − detractors) / answers × 100."""
    r = _check(start, end, regions, scope)
    return _one(
        con,
        "SELECT 100.0 * (sum(promoters) - sum(detractors)) / nullif(sum(answers), 0) "
        f"FROM rollup_feedback WHERE {_where(r)}",
        _params(start, end, r),
    )


def leader_commission(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float:
    """Σ net GMV × the community leader's commission rate, in CNY."""
    r = _check(start, end, regions, scope)
    return (
        _one(
            con,
            f"SELECT coalesce(sum(commission), 0) FROM rollup_sales WHERE {_where(r)}",
            _params(start, end, r),
        )
        or 0.0
    )


FUNCS: dict[str, Callable[..., float | None]] = {
    "gmv": gmv,
    "paid_orders": paid_orders,
    "aov": aov,
    "active_buyers": active_buyers,
    "repurchase_rate": repurchase_rate,
    "group_success_rate": group_success_rate,
    "inventory_turnover_days": inventory_turnover_days,
    "loss_rate": loss_rate,
    "on_time_rate": on_time_rate,
    "pickup_hours": pickup_hours,
    "nps": nps,
    "leader_commission": leader_commission,
}

# --------------------------------------------------------------------------- composites


def data_range(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """Return the first and last order dates, or ``None`` for an empty database."""
    lo, hi = con.execute("SELECT min(day), max(day) FROM rollup_orders").fetchall()[0]
    return None if lo is None else (lo, hi)


def previous_period(start: date, end: date) -> tuple[date, date]:
    """Return the period of equal length ending the day before ``start``."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def summary(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """Every KPI for a period with the previous period of equal length and the change.

    Parameters
    ----------
    con
        Connection with rollups.
    start, end
        Inclusive period.
    regions
        Region ids to include; empty for all.

    Returns
    -------
    pandas.DataFrame
        Columns ``kpi, unit, value, previous, delta`` (delta relative for money/count,
        in points for rates and scores, absolute for days/hours).

    Raises
    ------
    ValueError
        For an empty date range or non-integer regions.
    """
    regions = _check(start, end, regions, scope)
    p0, p1 = previous_period(start, end)
    rows = []
    for k in KPIS:
        v = FUNCS[k.key](con, start, end, regions)
        p = FUNCS[k.key](con, p0, p1, regions)
        if v is None or p is None:
            delta = None
        elif k.unit in ("money", "count"):
            delta = (v - p) / p if p else None
        else:
            delta = v - p
        rows.append((k.key, k.unit, v, p, delta))
    return pd.DataFrame(rows, columns=["kpi", "unit", "value", "previous", "delta"])


def trend(
    con,
    start: date,
    end: date,
    grain: str = "day",
    regions: Sequence[int] = (),
    scope: Scope = ALL,
) -> pd.DataFrame:
    """GMV, paid orders, group success and loss rate per period of a grain.

    Returns
    -------
    pandas.DataFrame
        Columns ``period, gmv, paid_orders, group_success_rate, loss_rate``.
    """
    r = _check(start, end, regions, scope)
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}")
    g = GRAINS[grain]
    p = _params(start, end, r)
    sql = f"""
        WITH s AS (SELECT date_trunc('{g}', day)::DATE AS period, sum(gmv) AS gmv
                   FROM rollup_sales WHERE {_where(r)} GROUP BY 1),
             o AS (SELECT date_trunc('{g}', day)::DATE AS period, sum(paid_orders) AS paid_orders
                   FROM rollup_orders WHERE {_where(r)} GROUP BY 1),
             c AS (SELECT date_trunc('{g}', day)::DATE AS period,
                          sum(successes)::DOUBLE / nullif(sum(campaigns), 0) AS group_success_rate
                   FROM rollup_campaigns WHERE {_where(r)} GROUP BY 1),
             k AS (SELECT date_trunc('{g}', day)::DATE AS period,
                          sum(wasted_value) / nullif(sum(received_value), 0) AS loss_rate
                   FROM rollup_stock WHERE {_where(r)} GROUP BY 1)
        SELECT period, coalesce(s.gmv, 0) AS gmv, coalesce(o.paid_orders, 0) AS paid_orders,
               c.group_success_rate, k.loss_rate
        FROM o FULL JOIN s USING (period) FULL JOIN c USING (period) FULL JOIN k USING (period)
        ORDER BY period"""
    return con.execute(sql, p * 4).df()


def repurchase_trend(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """Monthly repurchase rate per month in the period (columns ``month, repurchase_rate``)."""
    r = _check(start, end, regions, scope)
    sql = (
        "SELECT month, sum(repeat)::DOUBLE / sum(base) AS repurchase_rate FROM rollup_repurchase "
        f"WHERE {_where(r, 'month')} GROUP BY 1 ORDER BY 1"
    )
    return con.execute(sql, _params(start.replace(day=1), end, r)).df()


def by_region(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """GMV, orders, buyers, success and delivery per region for the period."""
    r = _check(start, end, regions, scope)
    p = _params(start, end, r)
    sql = f"""
        WITH s AS (SELECT region_id, sum(gmv) AS gmv FROM rollup_sales WHERE {_where(r)} GROUP BY 1),
             o AS (SELECT region_id, sum(paid_orders) AS paid_orders,
                          sum(on_time)::DOUBLE / nullif(sum(delivered), 0) AS on_time_rate
                   FROM rollup_orders WHERE {_where(r)} GROUP BY 1),
             b AS (SELECT region_id, count(DISTINCT user_id) AS active_buyers
                   FROM rollup_buyer_days WHERE {_where(r)} GROUP BY 1),
             c AS (SELECT region_id, sum(successes)::DOUBLE / nullif(sum(campaigns), 0)
                          AS group_success_rate FROM rollup_campaigns WHERE {_where(r)} GROUP BY 1)
        SELECT g.region_id, g.name AS region, coalesce(s.gmv, 0) AS gmv,
               coalesce(o.paid_orders, 0) AS paid_orders, coalesce(b.active_buyers, 0) AS active_buyers,
               c.group_success_rate, o.on_time_rate
        FROM regions g LEFT JOIN s USING (region_id) LEFT JOIN o USING (region_id)
             LEFT JOIN b USING (region_id) LEFT JOIN c USING (region_id)
        WHERE {"list_contains(?::INTEGER[], g.region_id)" if r else "TRUE"}
        ORDER BY gmv DESC"""
    return con.execute(sql, p * 4 + ([r] if r else [])).df()


def community_ranking(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """GMV, orders, GMV per household and group success per community, best GMV first."""
    r = _check(start, end, regions, scope)
    p = _params(start, end, r)
    sql = f"""
        WITH s AS (SELECT community_id, sum(gmv) AS gmv FROM rollup_sales WHERE {_where(r)} GROUP BY 1),
             o AS (SELECT community_id, sum(paid_orders) AS paid_orders FROM rollup_orders
                   WHERE {_where(r)} GROUP BY 1),
             c AS (SELECT community_id, sum(successes)::DOUBLE / nullif(sum(campaigns), 0)
                          AS group_success_rate FROM rollup_campaigns WHERE {_where(r)} GROUP BY 1)
        SELECT m.community_id, m.name AS community, g.name AS region, m.type,
               coalesce(s.gmv, 0) AS gmv, coalesce(o.paid_orders, 0) AS paid_orders,
               coalesce(s.gmv, 0) / m.households AS gmv_per_household, c.group_success_rate
        FROM communities m JOIN regions g USING (region_id)
             LEFT JOIN s USING (community_id) LEFT JOIN o USING (community_id)
             LEFT JOIN c USING (community_id)
        WHERE {"list_contains(?::INTEGER[], m.region_id)" if r else "TRUE"}
        ORDER BY gmv DESC"""
    return con.execute(sql, p * 3 + ([r] if r else [])).df()


def by_category(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """GMV, gross margin, loss rate and turnover days per category for the period."""
    r = _check(start, end, regions, scope)
    p = _params(start, end, r)
    sql = f"""
        WITH s AS (SELECT category, sum(gmv) AS gmv, sum(gmv - cogs) AS gross_margin
                   FROM rollup_sales WHERE {_where(r)} GROUP BY 1),
             k AS (SELECT category, sum(wasted_value) / nullif(sum(received_value), 0) AS loss_rate,
                          sum(wasted_value) AS wasted_value,
                          (sum(on_hand_value) / count(DISTINCT day))
                          / nullif(sum(sold_value) / count(DISTINCT day), 0) AS inventory_turnover_days
                   FROM rollup_stock WHERE {_where(r)} GROUP BY 1)
        SELECT category, coalesce(s.gmv, 0) AS gmv, s.gross_margin,
               s.gross_margin / nullif(s.gmv, 0) AS margin_rate, k.loss_rate, k.wasted_value,
               k.inventory_turnover_days
        FROM s FULL JOIN k USING (category) ORDER BY gmv DESC"""
    return con.execute(sql, p * 2).df()
