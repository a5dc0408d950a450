"""Purchase orders from demand forecasts (以销定采): one order per supplier.

For each SKU and warehouse, an order placed on ``as_of`` arrives after the supplier's lead
time ``L`` and must cover the ``days`` days from the arrival day on:

    need = Σ upper bound of the chosen interval over the cover days
           − (on hand + in transit − point forecast of the days before arrival)
    qty  = need rounded up to the pack size (0 when need ≤ 0)

The interval is chosen by shelf life: perishables (≤ 3 days) use the 50 % interval's upper
bound (the 75th percentile; leftovers spoil), short-life goods (≤ 30 days) the 80 %
interval's (90th percentile), long-life goods the 95 % interval's (97.5th percentile;
a stock-out costs more than holding). Summing daily upper bounds over several days is
conservative (it assumes the days' errors move together).

This is the one purchasing policy: the forecast page orders from the demand forecast of each
SKU and warehouse, tomorrow's plan (engine.planning) from its lists' expected units, whose
intervals :func:`bands` derives from the mean and variance of the planned campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from engine.auth import ALL, Scope

# Columns of PurchasePlan.lines and PurchasePlan.orders.
LINE_COLUMNS = (
    "supplier_id",
    "supplier",
    "lead_time_days",
    "order_date",
    "arrival_date",
    "warehouse_id",
    "sku_id",
    "name",
    "category",
    "shelf_life_days",
    "service_level",
    "forecast",
    "planned_demand",
    "on_hand",
    "in_transit",
    "need",
    "pack_size",
    "packs",
    "qty",
    "unit_cost",
    "amount",
)
ORDER_COLUMNS = (
    "supplier_id",
    "supplier",
    "lead_time_days",
    "order_date",
    "arrival_date",
    "lines",
    "units",
    "amount",
)


@dataclass(frozen=True)
class Policy:
    """Service levels by shelf life: the interval level whose upper bound is ordered."""

    perishable_days: int = 3
    perishable_level: int = 50
    short_life_days: int = 30
    short_life_level: int = 80
    long_life_level: int = 95

    @property
    def levels(self) -> tuple[int, ...]:
        """Interval levels the forecast must provide."""
        return tuple(sorted({self.perishable_level, self.short_life_level, self.long_life_level}))

    def level_for(self, shelf_life_days: pd.Series) -> pd.Series:
        """Interval level per SKU from its shelf life."""
        s = shelf_life_days.to_numpy()
        lv = np.where(
            s <= self.perishable_days,
            self.perishable_level,
            np.where(s <= self.short_life_days, self.short_life_level, self.long_life_level),
        )
        return pd.Series(lv, index=shelf_life_days.index)


@dataclass(frozen=True)
class PurchasePlan:
    """Order lines (one per SKU and warehouse with qty > 0) and one order per supplier."""

    lines: pd.DataFrame
    orders: pd.DataFrame


def stock(
    con: duckdb.DuckDBPyConnection, scope: Scope = ALL, on: date | None = None
) -> pd.DataFrame:
    """Closing stock and in-transit units per warehouse and SKU on a stock date.

    Parameters
    ----------
    con
        An open Linli database.
    scope
        The caller's row scope; warehouses outside it are left out.
    on
        The stock date (default: the last one).

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id, sku_id, on_hand, in_transit``.
    """
    table = con.execute(
        """
        SELECT warehouse_id, sku_id, on_hand::DOUBLE AS on_hand, in_transit::DOUBLE AS in_transit
        FROM inventory
        WHERE stock_date = coalesce(?::DATE, (SELECT max(stock_date) FROM inventory))
        """,
        [on],
    ).df()
    return scope.keep(con, table, "warehouse_id").reset_index(drop=True)


def bands(demand: pd.DataFrame, levels: tuple[int, ...]) -> pd.DataFrame:
    """A forecast frame from demand means and variances (normal intervals, floored at 0).

    Parameters
    ----------
    demand
        ``unique_id, ds, mean, var``.
    levels
        Interval levels, e.g. ``Policy().levels``.

    Returns
    -------
    pandas.DataFrame
        ``unique_id, ds, yhat`` and ``yhat_lo_<level>``, ``yhat_hi_<level>`` per level.

    Raises
    ------
    ValueError
        For a negative mean or variance.
    """
    if (demand["mean"] < 0).any() or (demand["var"] < 0).any():
        raise ValueError("demand means and variances must be non-negative")
    out = demand[["unique_id", "ds"]].copy()
    out["yhat"] = demand["mean"].to_numpy(float)
    sd = np.sqrt(demand["var"].to_numpy(float))
    for lv in levels:
        z = float(stats.norm.ppf(0.5 + lv / 200))
        out[f"yhat_lo_{lv}"] = np.maximum(out["yhat"] - z * sd, 0.0)
        out[f"yhat_hi_{lv}"] = out["yhat"] + z * sd
    return out


def suppliers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Suppliers with their lead times (``supplier_id, supplier, lead_time_days``)."""
    return con.execute("SELECT supplier_id, name AS supplier, lead_time_days FROM suppliers").df()


def plan(
    forecast: pd.DataFrame,
    keys: pd.DataFrame,
    stock_now: pd.DataFrame,
    supplier_table: pd.DataFrame,
    as_of: str | pd.Timestamp,
    days: int = 1,
    policy: Policy | None = None,
) -> PurchasePlan:
    """Order quantities per SKU and warehouse, grouped into one order per supplier.

    Parameters
    ----------
    forecast
        ``unique_id, ds, yhat`` and ``yhat_hi_<level>`` for every level of ``policy``,
        covering at least the days up to ``as_of + lead time + days - 1``.
    keys
        ``unique_id, sku_id, warehouse_id, name, category, shelf_life_days, pack_size,
        supplier_id, unit_cost`` (from ``engine.forecasting.demand``).
    stock_now
        ``warehouse_id, sku_id, on_hand, in_transit`` (missing rows count as zero).
    supplier_table
        ``supplier_id, supplier, lead_time_days``.
    as_of
        The day orders are placed (the last day with data).
    days
        Days each order must cover after it arrives: 1 for tomorrow, 7 for next week.
    policy
        Service levels by shelf life.

    Returns
    -------
    PurchasePlan
        Lines and per-supplier orders.

    Raises
    ------
    ValueError
        When ``days`` < 1, an interval column is missing or the forecast is too short.
    """
    policy = policy or Policy()
    if days < 1:
        raise ValueError("days must be >= 1")
    missing = [f"yhat_hi_{lv}" for lv in policy.levels if f"yhat_hi_{lv}" not in forecast]
    if missing:
        raise ValueError(f"forecast lacks {missing}; forecast with level={policy.levels}")
    as_of = pd.Timestamp(as_of).normalize()
    k = keys.merge(supplier_table, on="supplier_id", how="left")
    if k["lead_time_days"].isna().any():
        raise ValueError("some SKUs have a supplier without a lead time")
    k["service_level"] = policy.level_for(k["shelf_life_days"])
    f = forecast.merge(k[["unique_id", "lead_time_days", "service_level"]], on="unique_id")
    step = ((f["ds"] - as_of) / pd.Timedelta(days=1)).astype(int)  # 1 = tomorrow
    lead = f["lead_time_days"].clip(lower=1)
    last_needed = int((lead + days - 1).max())
    if step.max() < last_needed:
        raise ValueError(f"forecast covers {step.max()} days; orders need {last_needed}")
    hi = np.select(
        [f["service_level"] == lv for lv in policy.levels],
        [f[f"yhat_hi_{lv}"] for lv in policy.levels],
    )
    cover = (step >= lead) & (step < lead + days)
    before = (step >= 1) & (step < lead)
    f = f.assign(
        cover_q=np.where(cover, hi, 0.0),
        cover_mean=np.where(cover, f["yhat"], 0.0),
        before_mean=np.where(before, f["yhat"], 0.0),
    )
    agg = f.groupby("unique_id")[["cover_q", "cover_mean", "before_mean"]].sum().reset_index()
    lines = k.merge(agg, on="unique_id").merge(stock_now, on=["warehouse_id", "sku_id"], how="left")
    lines[["on_hand", "in_transit"]] = lines[["on_hand", "in_transit"]].fillna(0.0)
    position = lines["on_hand"] + lines["in_transit"] - lines["before_mean"]
    lines["need"] = (lines["cover_q"] - position).clip(lower=0.0)
    pack = lines["pack_size"].clip(lower=1)
    lines["packs"] = np.ceil(lines["need"] / pack - 1e-9).astype(int)
    lines["qty"] = lines["packs"] * pack
    lines["amount"] = lines["qty"] * lines["unit_cost"]
    lines["order_date"] = as_of.date()
    lines["arrival_date"] = (as_of + pd.to_timedelta(lead_days(lines), unit="D")).dt.date
    lines = lines.rename(columns={"cover_mean": "forecast", "cover_q": "planned_demand"})
    lines = lines.loc[lines["qty"] > 0, list(LINE_COLUMNS)].sort_values(
        ["supplier_id", "warehouse_id", "sku_id"], ignore_index=True
    )
    orders = (
        lines.groupby(["supplier_id", "supplier", "lead_time_days", "order_date", "arrival_date"])
        .agg(lines=("sku_id", "size"), units=("qty", "sum"), amount=("amount", "sum"))
        .reset_index()
    )
    return PurchasePlan(lines, orders)


def lead_days(lines: pd.DataFrame) -> pd.Series:
    """Lead time in days, at least one (next-day delivery is the fastest)."""
    return lines["lead_time_days"].clip(lower=1).astype(int)
