"""Every breakdown is the registry's formula per group: it equals the single-KPI figure."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from engine import kpis
from engine.kpis import queries, registry


def _same(got, want) -> None:
    # DuckDB sums floats in parallel, so the last bits vary from run to run.
    if want is None or pd.isna(want):
        assert got is None or pd.isna(got)
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def span(world):
    lo, hi = kpis.data_range(world.cursor())
    return lo, hi


def _period_end(start: date, grain: str) -> date:
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    return queries.next_month(start) - timedelta(days=1)


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_trend_rows_equal_the_kpi_of_their_period(world, span, grain):
    """Each trend row's GMV, orders, success and loss rate equal the KPI over that period."""
    cur = world.cursor()
    lo, hi = span
    start = lo if grain == "month" else hi - timedelta(days=40)
    for regions in [(), (1,)]:
        tr = kpis.trend(cur, start, hi, grain, regions)
        assert len(tr) > 1
        for row in tr.itertuples():
            a = max(row.period.date(), start)
            b = min(_period_end(row.period.date(), grain), hi)
            for key in ("gmv", "paid_orders", "group_success_rate", "loss_rate"):
                _same(getattr(row, key), kpis.FUNCS[key](cur, a, b, regions))


@pytest.mark.parametrize("days", [30, None])
def test_by_region_rows_equal_the_kpi_of_their_region(world, span, days):
    """by_region's columns for region r equal each KPI asked for regions=[r]."""
    cur = world.cursor()
    lo, hi = span
    start = lo if days is None else hi - timedelta(days=days - 1)
    table = kpis.by_region(cur, start, hi)
    assert len(table) == cur.execute("SELECT count(*) FROM regions").fetchone()[0]
    for row in table.itertuples():
        for key in ("gmv", "paid_orders", "active_buyers", "group_success_rate", "on_time_rate"):
            _same(getattr(row, key), kpis.FUNCS[key](cur, start, hi, [row.region_id]))


def test_repurchase_trend_rows_equal_the_kpi_of_their_month(world, span):
    """repurchase_trend's rate for month m equals repurchase_rate over month m."""
    cur = world.cursor()
    lo, hi = span
    tr = kpis.repurchase_trend(cur, lo, hi, (2,))
    assert len(tr) >= 2
    for row in tr.itertuples():
        m = row.month.date()
        last = queries.next_month(m) - timedelta(days=1)
        _same(row.repurchase_rate, kpis.repurchase_rate(cur, m, last, (2,)))


def test_community_ranking_adds_up_and_matches_the_base_tables(world, span):
    """Communities' GMV and orders add up to their region's KPI; success matches campaigns."""
    cur = world.cursor()
    _, hi = span
    start = hi - timedelta(days=29)
    table = kpis.community_ranking(cur, start, hi)
    region_of = dict(cur.execute("SELECT community_id, region_id FROM communities").fetchall())
    table["region_id"] = table["community_id"].map(region_of)
    for r, part in table.groupby("region_id"):
        _same(part["gmv"].sum(), kpis.gmv(cur, start, hi, [r]))
        _same(part["paid_orders"].sum(), kpis.paid_orders(cur, start, hi, [r]))
    direct = dict(
        cur.execute(
            "SELECT community_id, avg(success::INT) FROM campaigns "
            "WHERE sale_date BETWEEN ? AND ? GROUP BY 1",
            [start, hi],
        ).fetchall()
    )
    households = dict(cur.execute("SELECT community_id, households FROM communities").fetchall())
    for row in table.itertuples():
        _same(row.group_success_rate, direct.get(row.community_id))
        _same(row.gmv_per_household, row.gmv / households[row.community_id])


def test_by_category_adds_up_and_matches_the_base_tables(world, span):
    """Categories' GMV adds up to the GMV KPI; loss, turnover and margin match base tables."""
    cur = world.cursor()
    _, hi = span
    start = hi - timedelta(days=29)
    table = kpis.by_category(cur, start, hi).set_index("category")
    _same(table["gmv"].sum(), kpis.gmv(cur, start, hi))
    stock = cur.execute(
        """SELECT s.category, sum(v.wasted * s.unit_cost) / sum(v.received * s.unit_cost),
                  (sum(v.on_hand * s.unit_cost) / count(DISTINCT v.stock_date))
                  / (sum(v.sold * s.unit_cost) / count(DISTINCT v.stock_date))
           FROM inventory v JOIN skus s USING (sku_id)
           WHERE v.stock_date BETWEEN ? AND ? GROUP BY 1""",
        [start, hi],
    ).fetchall()
    assert stock
    for category, loss, turnover in stock:
        _same(table.loc[category, "loss_rate"], loss)
        _same(table.loc[category, "inventory_turnover_days"], turnover)
    margin = cur.execute(
        """SELECT s.category, sum((i.qty - i.refund_qty) * (i.unit_price - i.unit_cost))
           FROM order_items i JOIN orders o USING (order_id) JOIN skus s USING (sku_id)
           WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ? GROUP BY 1""",
        [start, hi],
    ).fetchall()
    for category, gross in margin:
        _same(table.loc[category, "gross_margin"], gross)
        _same(table.loc[category, "margin_rate"], gross / table.loc[category, "gmv"])


def test_summary_values_are_the_single_kpis(world, span):
    """Each summary row's value and previous value are the KPI function's."""
    cur = world.cursor()
    _, hi = span
    start = hi - timedelta(days=29)
    p0, p1 = kpis.previous_period(start, hi)
    s = kpis.summary(cur, start, hi, (1, 2)).set_index("kpi")
    assert list(s.index) == list(kpis.KPI_KEYS)
    for key, fn in kpis.FUNCS.items():
        _same(s.loc[key, "value"], fn(cur, start, hi, (1, 2)))
        _same(s.loc[key, "previous"], fn(cur, p0, p1, (1, 2)))


def test_every_kpi_has_one_formula_over_a_rollup():
    """Each KPI is an aggregate over a rollup table, or the ratio of two such KPIs."""
    assert kpis.KPI_KEYS == tuple(kpis.FUNCS)
    for k in kpis.KPIS:
        assert (k.formula is None) != (k.ratio_of is None), k.key
        if k.formula is not None:
            assert k.formula.table in kpis.ROLLUPS, k.key
        else:
            assert k.ratio_of is not None
            assert all(registry.BY_KEY[p].formula is not None for p in k.ratio_of), k.key
    for f in registry.MEASURES.values():
        assert f.table in kpis.ROLLUPS


def test_unknown_breakdown_key_is_refused():
    """Only registry keys become SQL: anything else is a KeyError, not interpolated text."""
    with pytest.raises(KeyError):
        queries.grouped(
            ["gmv; DROP TABLE orders"], "region_id", "region_id", date.today(), date.today(), ()
        )
    with pytest.raises(KeyError, match="ratio"):
        queries.total("aov", ())
