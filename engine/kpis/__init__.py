"""Executive KPIs, each defined once (docs/metrics.md), computed from daily rollup tables.

The formulas live in :mod:`engine.kpis.registry`; the rollups, rebuilt by
:func:`refresh_rollups` whenever the base tables change, in :mod:`engine.kpis.rollups`; the SQL
built from both in :mod:`engine.kpis.queries`. Every KPI takes a date range and an optional set
of region ids and returns the value for that period; :func:`summary` adds the previous period
of equal length, and the breakdowns (:func:`trend`, :func:`by_region`,
:func:`community_ranking`, :func:`by_category`, :func:`repurchase_trend`) compute the same
formulas per group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import duckdb
import pandas as pd

from engine.auth import ALL, Scope, ScopeError
from engine.kpis import queries, registry
from engine.kpis.registry import KPI_KEYS, KPIS, Kpi
from engine.kpis.rollups import ORDER_BY, ROLLUPS, refresh_rollups

__all__ = [
    "FUNCS",
    "GRAINS",
    "KPIS",
    "KPI_KEYS",
    "ORDER_BY",
    "ROLLUPS",
    "Kpi",
    "active_buyers",
    "aov",
    "by_category",
    "by_region",
    "community_ranking",
    "data_range",
    "gmv",
    "group_success_rate",
    "inventory_turnover_days",
    "leader_commission",
    "loss_rate",
    "nps",
    "on_time_rate",
    "paid_orders",
    "pickup_hours",
    "previous_period",
    "refresh_rollups",
    "repurchase_rate",
    "repurchase_trend",
    "summary",
    "trend",
]

GRAINS = {"day": "day", "week": "week", "month": "month"}


def _check(start: date, end: date, regions: Sequence[int], scope: Scope = ALL) -> list[int]:
    if start > end:
        raise ValueError(f"empty date range: start {start} is after end {end}")
    try:
        req = [int(r) for r in regions]
    except (TypeError, ValueError):
        raise ValueError(f"regions must be integer ids, got {regions!r}") from None
    if scope.warehouses is not None:
        # Rollups are kept per region: a scope cut by warehouse cannot be cut from them.
        raise ScopeError("KPIs are kept per region; a scope limited to warehouses cannot read them")
    return list(scope.clip_regions(req))


def _one(con, sql: str, params: list) -> float | None:
    v = con.execute(sql, params).fetchall()[0][0]
    return None if v is None else float(v)


def _figure(con, key: str, start: date, end: date, regions: list[int]) -> float | None:
    """The registry's formula of ``key`` over a period; ``regions`` already checked."""
    return _one(con, queries.total(key, regions), queries.params(start, end, regions))


def _kpi(
    con, key: str, start: date, end: date, regions: Sequence[int], scope: Scope
) -> float | None:
    return _figure(con, key, start, end, _check(start, end, regions, scope))


def _amount(con, key: str, start: date, end: date, regions: Sequence[int], scope: Scope) -> float:
    return _kpi(con, key, start, end, regions, scope) or 0.0


def _quotient(
    con, key: str, start: date, end: date, regions: Sequence[int], scope: Scope
) -> float | None:
    ratio_of = registry.BY_KEY[key].ratio_of
    if ratio_of is None:
        raise KeyError(f"{key} is not the ratio of two KPIs")
    num, den = (FUNCS[k](con, start, end, regions, scope) for k in ratio_of)
    return num / den if num is not None and den else None


# --------------------------------------------------------------------------- KPI queries
# Each function is the registry's formula of the same name; docs/metrics.md defines it.


def gmv(con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL) -> float:
    """Net GMV in CNY: Σ (qty − refund_qty) × unit_price over non-cancelled orders."""
    return _amount(con, "gmv", start, end, regions, scope)


def paid_orders(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float:
    """Orders with status ``paid`` (neither cancelled nor fully refunded)."""
    return _amount(con, "paid_orders", start, end, regions, scope)


def aov(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Average order value: GMV / paid orders; ``None`` without orders."""
    return _quotient(con, "aov", start, end, regions, scope)


def active_buyers(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float:
    """Distinct users with at least one paid order in the period.

    The period is covered by whole months, then whole weeks, then single days, so the
    distinct count reads pre-deduplicated rows, not every order.
    """
    r = _check(start, end, regions, scope)
    base, wbase = con.execute("SELECT min(base), min(week_base) FROM rollup_buyer_bits").fetchone()
    sql, params = queries.buyers(start, end, r, base, wbase)
    return _one(con, sql, params) or 0.0


def repurchase_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Monthly repurchase: of the buyers of month m−1, the share buying again in month m.

    Pooled over the calendar months m whose first day lies in the period (a period shorter
    than a month uses the month it starts in).
    """
    r = _check(start, end, regions, scope)
    m0 = start.replace(day=1)
    first = m0 if start.day == 1 or end < queries.next_month(m0) else queries.next_month(m0)
    return _figure(con, "repurchase_rate", first, max(end, first), r)


def group_success_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """成团率: campaigns whose units reached the threshold / all campaigns."""
    return _kpi(con, "group_success_rate", start, end, regions, scope)


def inventory_turnover_days(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Mean closing stock value / mean daily cost of goods sold, in days."""
    return _kpi(con, "inventory_turnover_days", start, end, regions, scope)


def loss_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Wasted stock at cost / received stock at cost."""
    return _kpi(con, "loss_rate", start, end, regions, scope)


def on_time_rate(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Delivered orders at the pickup point by the promised time / delivered orders."""
    return _kpi(con, "on_time_rate", start, end, regions, scope)


def pickup_hours(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Mean hours from order to customer pickup, over picked-up orders."""
    return _kpi(con, "pickup_hours", start, end, regions, scope)


def nps(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float | None:
    """Net promoter score: (promoters − detractors) / answers × 100."""
    return _kpi(con, "nps", start, end, regions, scope)


def leader_commission(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> float:
    """Σ net GMV × the community leader's commission rate, in CNY."""
    return _amount(con, "leader_commission", start, end, regions, scope)


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
    scope
        The reader's access scope; ``regions`` are clipped to it.

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
    b = queries.grouped(
        ("gmv", "paid_orders", "group_success_rate", "loss_rate"),
        "period",
        f"date_trunc('{GRAINS[grain]}', day)::DATE",
        start,
        end,
        r,
    )
    sql = f"{b.sql}\nSELECT period, {b.select_all()} FROM {b.full_join()} ORDER BY period"
    return con.execute(sql, b.params).df()


def repurchase_trend(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """Monthly repurchase rate per month in the period (columns ``month, repurchase_rate``)."""
    r = _check(start, end, regions, scope)
    b = queries.grouped(("repurchase_rate",), "month", "month", start.replace(day=1), end, r)
    sql = f"{b.sql}\nSELECT month, {b.select_all()} FROM {b.full_join()} ORDER BY month"
    return con.execute(sql, b.params).df()


def by_region(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """GMV, orders, buyers, success and delivery per region for the period."""
    r = _check(start, end, regions, scope)
    b = queries.grouped(
        ("gmv", "paid_orders", "active_buyers", "group_success_rate", "on_time_rate"),
        "region_id",
        "region_id",
        start,
        end,
        r,
    )
    sql = f"""{b.sql}
        SELECT g.region_id, g.name AS region, {b.select_all()}
        FROM regions g {b.left_join()}
        WHERE {"list_contains(?::INTEGER[], g.region_id)" if r else "TRUE"}
        ORDER BY gmv DESC"""
    return con.execute(sql, b.params + ([r] if r else [])).df()


def community_ranking(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """GMV, orders, GMV per household and group success per community, best GMV first."""
    r = _check(start, end, regions, scope)
    b = queries.grouped(
        ("gmv", "paid_orders", "group_success_rate"), "community_id", "community_id", start, end, r
    )
    sql = f"""{b.sql}
        SELECT m.community_id, m.name AS community, g.name AS region, m.type,
               {b.select("gmv")}, {b.select("paid_orders")},
               {b.value("gmv")} / m.households AS gmv_per_household,
               {b.select("group_success_rate")}
        FROM communities m JOIN regions g USING (region_id) {b.left_join()}
        WHERE {"list_contains(?::INTEGER[], m.region_id)" if r else "TRUE"}
        ORDER BY gmv DESC"""
    return con.execute(sql, b.params + ([r] if r else [])).df()


def by_category(
    con, start: date, end: date, regions: Sequence[int] = (), scope: Scope = ALL
) -> pd.DataFrame:
    """GMV, gross margin, loss rate and turnover days per category for the period."""
    r = _check(start, end, regions, scope)
    b = queries.grouped(
        (
            "gmv",
            "gross_margin",
            "margin_rate",
            "loss_rate",
            "wasted_value",
            "inventory_turnover_days",
        ),
        "category",
        "category",
        start,
        end,
        r,
    )
    sql = f"{b.sql}\nSELECT category, {b.select_all()} FROM {b.full_join()} ORDER BY gmv DESC"
    return con.execute(sql, b.params).df()
