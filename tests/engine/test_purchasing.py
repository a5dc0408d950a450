"""Tests of engine.purchasing on hand-built forecasts."""

from __future__ import annotations

import pandas as pd
import pytest

from engine import purchasing

AS_OF = pd.Timestamp("2026-11-24")


def _inputs(shelf_life: int, lead: int = 1, on_hand: float = 0.0):
    """One SKU at one warehouse with a flat forecast of 10 a day."""
    ds = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=14)
    fc = pd.DataFrame(
        {"unique_id": "1@1", "ds": ds, "yhat": 10.0, "yhat_hi_50": 12.0, "yhat_hi_80": 15.0,
         "yhat_hi_95": 20.0}
    )  # fmt: skip
    keys = pd.DataFrame(
        {"unique_id": ["1@1"], "sku_id": [1], "warehouse_id": [1], "name": ["苹果"],
         "category": ["水果"], "shelf_life_days": [shelf_life], "pack_size": [6],
         "supplier_id": [9], "unit_cost": [2.0]}
    )  # fmt: skip
    stock = pd.DataFrame({"warehouse_id": [1], "sku_id": [1], "on_hand": [on_hand],
                          "in_transit": [0.0]})  # fmt: skip
    sup = pd.DataFrame({"supplier_id": [9], "supplier": ["果园"], "lead_time_days": [lead]})
    return fc, keys, stock, sup


@pytest.mark.parametrize(
    ("shelf_life", "per_day"), [(2, 12.0), (10, 15.0), (365, 20.0)], ids=["fresh", "short", "long"]
)
def test_service_level_follows_shelf_life(shelf_life, per_day):
    """Perishables order the 75th, short-life the 90th, long-life the 97.5th percentile."""
    fc, keys, stock, sup = _inputs(shelf_life)
    line = purchasing.plan(fc, keys, stock, sup, AS_OF, days=7).lines.iloc[0]
    assert line["planned_demand"] == pytest.approx(7 * per_day)
    assert line["qty"] % 6 == 0 and 0 <= line["qty"] - 7 * per_day < 6


def test_stock_and_lead_time_reduce_the_order():
    """On-hand stock, net of demand before arrival, is subtracted; qty rounds up to packs."""
    fc, keys, stock, sup = _inputs(10, lead=3, on_hand=40.0)
    # Arrives on day 3 and covers day 3 (15); stock left by then is 40 - 2 days x 10 = 20.
    assert purchasing.plan(fc, keys, stock, sup, AS_OF, days=1).lines.empty
    fc, keys, stock, sup = _inputs(10, lead=3, on_hand=25.0)
    line = purchasing.plan(fc, keys, stock, sup, AS_OF, days=7).lines.iloc[0]
    assert line["need"] == pytest.approx(7 * 15 - (25 - 20))
    assert line["qty"] == 102 and str(line["arrival_date"]) == "2026-11-27"


def test_enough_stock_means_no_line():
    """A SKU whose stock covers the planned demand gets no order line."""
    fc, keys, stock, sup = _inputs(10, on_hand=500.0)
    plan = purchasing.plan(fc, keys, stock, sup, AS_OF, days=7)
    assert plan.lines.empty and plan.orders.empty


def test_short_forecast_rejected():
    """A forecast not reaching the end of the cover period is an error."""
    fc, keys, stock, sup = _inputs(10, lead=5)
    with pytest.raises(ValueError, match="orders need"):
        purchasing.plan(fc.head(6), keys, stock, sup, AS_OF, days=7)


def test_missing_interval_rejected():
    """The forecast must carry the intervals the policy orders from."""
    fc, keys, stock, sup = _inputs(10)
    with pytest.raises(ValueError, match="yhat_hi_50"):
        purchasing.plan(fc.drop(columns="yhat_hi_50"), keys, stock, sup, AS_OF)
