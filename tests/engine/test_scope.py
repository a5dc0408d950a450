"""Row scope at every engine entry point: a regional manager never gets another region's rows.

Each public engine function that reads rows from the database (its first parameter is a
connection) is listed here, either in ``ENTRY_POINTS`` — called twice, unscoped and with a
regional manager's scope — or in ``NO_REGION_ROWS`` with the reason it returns no rows of a
region. ``test_every_entry_point_is_listed`` walks the engine package so that a new entry
point cannot be added without a scope test.

Region 3 of the small world is the demanding case: its communities are served by warehouse 2,
which also serves region 2, so warehouse-level rows must be cut by community, not by the
warehouse's own region.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

import engine
from engine import auth, clock, kpis, lots, outcomes, planning, purchasing, reference
from engine.basket import slices as basket_slices
from engine.coldchain import store as coldchain_store
from engine.coupons import issue as coupon_issue
from engine.coupons import uplift as coupon_uplift
from engine.forecasting import demand, outlook
from engine.forecasting import fanout as forecast_fanout
from engine.leaders import commission, pickup
from engine.leaders import ranking as leader_ranking
from engine.pricing import data as pricing_data
from engine.pricing import markdown, whatif
from engine.pricing import response as pricing_response
from engine.routing import dispatch, orders
from engine.routing import fanout as routing_fanout
from engine.rules import backtest as rule_backtest
from engine.rules import evaluation
from engine.segmentation import churn, features, geo, koc, profiles
from engine.segmentation import pipeline as segmentation

REGION = 3
MANAGER = auth.Scope(regions=(REGION,))


@dataclass
class Rows:
    """What an entry point returned, as the ids that say whose rows they are."""

    communities: set[int]
    warehouses: set[int] = frozenset()
    devices: set[str] = frozenset()
    total: float | None = None  # an additive measure, for aggregated outputs


# ------------------------------------------------------------------------- ground truth
@pytest.fixture(scope="module")
def truth(world):
    cur = world.cursor()
    comm = cur.execute("SELECT community_id, region_id, warehouse_id FROM communities").df()
    inside = set(comm.loc[comm["region_id"] == REGION, "community_id"])
    warehouses = set(comm.loc[comm["region_id"] == REGION, "warehouse_id"])
    dev = cur.execute(
        "SELECT d.device_id, d.kind, d.warehouse_id, p.community_id FROM devices d "
        "LEFT JOIN pickup_points p USING (pickup_id)"
    ).df()
    cab = dev["kind"] == "cabinet"
    devices = set(dev.loc[cab & dev["community_id"].isin(inside), "device_id"]) | set(
        dev.loc[~cab & dev["warehouse_id"].isin(warehouses), "device_id"]
    )
    pickups = dict(cur.execute("SELECT pickup_id, community_id FROM pickup_points").fetchall())
    return {"communities": inside, "warehouses": warehouses, "devices": devices, "pickups": pickups}


def _comms(values) -> set[int]:
    return {int(v) for v in pd.Series(values).dropna()}


def _orders_to_communities(cur, order_ids) -> set[int]:
    ids = [int(i) for i in pd.Series(order_ids).unique()]
    found = cur.execute(
        "SELECT DISTINCT community_id FROM orders WHERE list_contains(?::BIGINT[], order_id)",
        [ids],
    ).fetchall()
    return {int(r[0]) for r in found}


def _users_to_communities(cur, user_ids) -> set[int]:
    ids = [int(i) for i in pd.Series(user_ids).unique()]
    found = cur.execute(
        "SELECT DISTINCT community_id FROM users WHERE list_contains(?::BIGINT[], user_id)", [ids]
    ).fetchall()
    return {int(r[0]) for r in found}


# ------------------------------------------------------------------------- shared inputs
@pytest.fixture(scope="module")
def pricing_model(world):
    return pricing_response.fit(world.cursor(), days=42)


@pytest.fixture(scope="module")
def window(world):
    _, hi = kpis.data_range(world.cursor())
    return hi - timedelta(days=27), hi


# ------------------------------------------------------------------------- entry points
def _kpi_ranking(cur, scope, ctx):
    lo, hi = ctx["window"]
    return Rows(_comms(kpis.community_ranking(cur, lo, hi, scope=scope)["community_id"]))


def _kpi_by_region(cur, scope, ctx):
    lo, hi = ctx["window"]
    regions = kpis.by_region(cur, lo, hi, scope=scope)["region_id"]
    comm = cur.execute("SELECT community_id, region_id FROM communities").df()
    return Rows(set(comm.loc[comm["region_id"].isin(regions), "community_id"]))


def _kpi_gmv(cur, scope, ctx):
    lo, hi = ctx["window"]
    # A scalar: its scope check is that it equals the KPI asked for the region explicitly.
    got = kpis.gmv(cur, lo, hi, scope=scope)
    own = kpis.gmv(cur, lo, hi, [REGION]) if scope.restricted else got
    assert got == pytest.approx(own)
    return Rows(ctx["truth"]["communities"] if scope.restricted else ctx["all"], total=got)


def _segmentation_run(cur, scope, ctx):
    seg = segmentation.run(cur, with_churn=False, scope=scope)
    return Rows(_comms(seg.users["community_id"]))


def _persona_trend(cur, scope, ctx):
    seg = segmentation.run(cur, with_churn=False)  # unscoped labels: the scope must still cut
    lo, hi = ctx["window"]
    trend = segmentation.persona_trend(cur, seg, lo, hi, scope)
    n = cur.execute(
        "SELECT count(*) FROM orders WHERE status <> 'cancelled' AND order_date BETWEEN ? AND ? "
        "AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], community_id))",
        [lo, hi, *[sorted(ctx["truth"]["communities"]) if scope.restricted else None] * 2],
    ).fetchall()[0][0]
    assert trend["orders"].sum() == n
    return Rows(ctx["truth"]["communities"] if scope.restricted else ctx["all"], total=n)


def _user_features(cur, scope, ctx):
    return Rows(_comms(features.user_features(cur, scope=scope)["community_id"]))


def _churn(cur, scope, ctx):
    model = churn.fit_score(cur, scope=scope)
    return Rows(_users_to_communities(cur, model.scores["user_id"]))


def _koc(cur, scope, ctx):
    return Rows(_comms(koc.rank(cur, scope=scope)["community_id"]))


def _density(cur, scope, ctx):
    lo, hi = ctx["window"]
    m = geo.density(cur, lo, hi, scope=scope)
    return Rows(_comms(m.pickups["community_id"]), _comms(m.warehouses["warehouse_id"]))


def _community_table(cur, scope, ctx):
    lo, hi = ctx["window"]
    table = profiles.community_table(cur, lo, hi, scope=scope)
    return Rows(_comms(table.metrics["community_id"]) | _comms(table.categories["community_id"]))


def _basket_transactions(cur, scope, ctx):
    lo, hi = ctx["window"]
    q = basket_slices.BasketSlice(start=lo, end=hi)
    tx = basket_slices.transactions(cur, q, access=scope)
    return Rows(_orders_to_communities(cur, tx["order_id"]))


def _basket_margins(cur, scope, ctx):
    lo, hi = ctx["window"]
    got = basket_slices.margins(cur, basket_slices.BasketSlice(start=lo, end=hi), access=scope)
    if scope.restricted:  # the same as asking for the region explicitly
        own = basket_slices.margins(
            cur, basket_slices.BasketSlice(regions=(REGION,), start=lo, end=hi)
        )
        pd.testing.assert_frame_equal(got, own)
    return Rows(
        ctx["truth"]["communities"] if scope.restricted else ctx["all"],
        total=float(got["units"].sum()),
    )


def _basket_bundles(cur, scope, ctx):
    lo, hi = ctx["window"]
    got = basket_slices.bundles_by_type(
        cur, basket_slices.BasketSlice(start=lo, end=hi), 0.01, access=scope
    )
    if scope.restricted:
        own = basket_slices.bundles_by_type(
            cur, basket_slices.BasketSlice(regions=(REGION,), start=lo, end=hi), 0.01
        )
        pd.testing.assert_frame_equal(got, own)
    return Rows(
        ctx["truth"]["communities"] if scope.restricted else ctx["all"], total=float(len(got))
    )


def _rules_evaluate(cur, scope, ctx):
    picks = evaluation.evaluate(cur, "范围 全部 过去 30 天 排序 浏览量 降序 前 5", scope=scope)
    return Rows(_comms(picks["community_id"]))


def _rules_evaluate_many(cur, scope, ctx):
    _, hi = ctx["window"]
    picks = evaluation.evaluate_many(
        cur, "范围 全部 过去 30 天 排序 浏览量 降序 前 5", [hi - timedelta(days=7), hi], scope=scope
    )
    return Rows(_comms(picks["community_id"]))


def _rules_backtest(cur, scope, ctx):
    _, hi = ctx["window"]
    res = rule_backtest.backtest(
        cur, ["范围 全部 过去 14 天 排序 销量 降序 前 5"], hi - timedelta(days=21), 2, scope=scope
    )
    return Rows(_comms(res.picks["community_id"]))


def _demand_history(cur, scope, ctx):
    data = demand.history(cur, scope=scope)
    sold = cur.execute(
        "SELECT sum(i.qty) FROM order_items i JOIN orders o USING (order_id) "
        "WHERE o.status <> 'cancelled' "
        "AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], o.community_id))",
        [*[sorted(ctx["truth"]["communities"]) if scope.restricted else None] * 2],
    ).fetchall()[0][0]
    # Every unit in the series comes from the scope's own communities, and all of them.
    assert data.frame["y"].sum() == pytest.approx(float(sold))
    return Rows(
        ctx["truth"]["communities"] if scope.restricted else ctx["all"],
        _comms(data.keys["warehouse_id"]),
        total=float(sold),
    )


def _outlook(cur, scope, ctx):
    fast = dataclasses.replace(outlook.SETTINGS, n_estimators=30, max_train_rows=20_000)
    r = outlook.compute(cur, scope, settings=fast, choose=False)
    data = demand.history(cur, scope=scope)
    # The page's series are the scope's own demand, history and forecast alike.
    assert r.history["y"].sum() == pytest.approx(data.frame["y"].sum())
    assert set(r.forecast["unique_id"]) <= set(data.keys["unique_id"])
    return Rows(set(), _comms(r.keys["warehouse_id"]), total=float(r.history["y"].sum()))


def _purchasing_stock(cur, scope, ctx):
    return Rows(set(), _comms(purchasing.stock(cur, scope)["warehouse_id"]))


def _lots_near_expiry(cur, scope, ctx):
    # The world has no lots: each warehouse's last closing stock becomes one lot expiring in two
    # days, in a temporary table that shadows the empty one for this cursor only.
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE inventory_lots AS SELECT stock_date, warehouse_id, sku_id, "
        "'L' || sku_id AS lot_id, stock_date - 1 AS received_date, stock_date + 2 AS expiry_date, "
        "on_hand AS qty FROM inventory WHERE stock_date = (SELECT max(stock_date) FROM inventory)"
    )
    try:
        day = cur.execute("SELECT max(stock_date) FROM inventory").fetchall()[0][0]
        out = lots.near_expiry(cur, day, 7, scope)
    finally:
        cur.execute("DROP TABLE temp.main.inventory_lots")
    return Rows(set(), _comms(out["warehouse_id"]))


def _pricing_campaigns(cur, scope, ctx):
    lo, hi = ctx["window"]
    return Rows(_comms(pricing_data.campaigns(cur, lo, hi, scope)["community_id"]))


def _pricing_communities(cur, scope, ctx):
    return Rows(_comms(pricing_data.communities(cur, scope)["community_id"]))


def _pricing_user_segments(cur, scope, ctx):
    segs = pricing_data.user_segments(cur, "age_band", scope)
    return Rows(_users_to_communities(cur, segs["user_id"]))


def _pricing_segment_lines(cur, scope, ctx):
    lo, hi = ctx["window"]
    segs = pricing_data.user_segments(cur, "age_band")
    _, traffic = pricing_data.segment_lines(cur, segs, lo, hi, scope)
    return Rows(_comms(traffic["community_id"]))


def _whatif_simulate(cur, scope, ctx):
    m = ctx["pricing_model"]
    out = whatif.simulate(m, m.sku_ids[:3], scope=scope)
    return Rows(_comms(out.rows["community_id"]))


def _whatif_optimise(cur, scope, ctx):
    m = ctx["pricing_model"]
    return Rows(_comms(whatif.optimise(m, int(m.sku_ids[0]), scope=scope)["community_id"]))


def _whatif_curve(cur, scope, ctx):
    m = ctx["pricing_model"]
    got = whatif.curve(m, int(m.sku_ids[0]), prices=[10.0, 20.0], scope=scope)
    if scope.restricted:
        own = whatif.curve(
            m, int(m.sku_ids[0]), sorted(ctx["truth"]["communities"]), prices=[10.0, 20.0]
        )
        pd.testing.assert_frame_equal(got, own)
    return Rows(
        ctx["truth"]["communities"] if scope.restricted else ctx["all"],
        total=float(got["sold"].sum()),
    )


def _markdown_near_expiry(cur, scope, ctx):
    _, hi = ctx["window"]
    return Rows(set(), _comms(markdown.near_expiry(cur, hi, 30, scope)["warehouse_id"]))


def _markdown_where_listed(cur, scope, ctx):
    lo, hi = ctx["window"]
    sku = cur.execute(
        "SELECT sku_id FROM campaigns WHERE sale_date BETWEEN ? AND ? GROUP BY 1 "
        "ORDER BY count(DISTINCT community_id) DESC, 1 LIMIT 1",
        [lo, hi],
    ).fetchall()[0][0]
    return Rows(_comms(markdown.where_listed(cur, sku, hi, (hi - lo).days + 1, scope=scope)))


def _markdown_demand(cur, scope, ctx):
    m = ctx["pricing_model"]
    got, _, _ = markdown.demand_for_sku(m, int(m.sku_ids[0]), 3, scope=scope)
    if scope.restricted:
        own, _, _ = markdown.demand_for_sku(
            m, int(m.sku_ids[0]), 3, sorted(ctx["truth"]["communities"])
        )
        np.testing.assert_allclose(got, own)
    return Rows(
        ctx["truth"]["communities"] if scope.restricted else ctx["all"], total=float(got.sum())
    )


def _dispatch_order_lines(cur, scope, ctx):
    day = clock.next_delivery_day(cur) - timedelta(days=1)
    lines = orders.order_lines(cur, day - timedelta(days=1), scope=scope)
    return Rows(
        {ctx["truth"]["pickups"][p] for p in lines["pickup_id"]}, _comms(lines["warehouse_id"])
    )


def _dispatch_plan_day(cur, scope, ctx):
    day = clock.next_delivery_day(cur) - timedelta(days=1)
    settings = dispatch.DispatchSettings(time_limit_s=1)
    plan = dispatch.plan_day(cur, day, settings=settings, scope=scope)
    pickups = set(plan.stops["pickup_id"]) | set(plan.route_stops.get("pickup_id", []))
    return Rows({ctx["truth"]["pickups"][int(p)] for p in pickups})


def _fanout_training_frame(cur, scope, ctx):
    frame, _ = forecast_fanout.training_frame(cur, scope=scope)
    sold = cur.execute(
        "SELECT sum(i.qty) FROM order_items i JOIN orders o USING (order_id) "
        "WHERE o.status <> 'cancelled' "
        "AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], o.community_id))",
        [*[sorted(ctx["truth"]["communities"]) if scope.restricted else None] * 2],
    ).fetchall()[0][0]
    # The per-region training rows hold the scope's own units, and all of them.
    assert frame["y"].sum() == pytest.approx(float(sold))
    return Rows(ctx["truth"]["communities"] if scope.restricted else ctx["all"], total=float(sold))


def _fanout_day_stops(cur, scope, ctx):
    day = clock.next_delivery_day(cur) - timedelta(days=1)
    stops, _ = routing_fanout.day_stops(cur, day, scope=scope)
    return Rows({ctx["truth"]["pickups"][int(p)] for p in stops["pickup_id"]})


def _dispatch_plan_lines(cur, scope, ctx):
    day = clock.next_delivery_day(cur) - timedelta(days=1)
    lines = orders.order_lines(cur, day - timedelta(days=1))  # every region's lines
    settings = dispatch.DispatchSettings(time_limit_s=1)
    plan = dispatch.plan_lines(cur, lines, day, settings, scope=scope)
    return Rows({ctx["truth"]["pickups"][int(p)] for p in plan.stops["pickup_id"]})


def _planning_build(cur, scope, ctx):
    _, hi = ctx["window"]
    settings = planning.PlanSettings(route=False)
    plan = planning.build(cur, hi + timedelta(days=1), settings, scope=scope)
    return Rows(_comms(plan.items["community_id"]))


def _stored_plan(cur, ctx) -> str:
    _, hi = ctx["window"]
    cur.execute(
        "INSERT INTO group_plans VALUES ('SCOPE-TEST', ?, ?, now(), 'r', '{}', 'draft', NULL, "
        "NULL)",
        [hi, hi - timedelta(days=1)],
    )
    sku = cur.execute("SELECT min(sku_id) FROM skus").fetchall()[0][0]
    for c in sorted(ctx["all"]):
        cur.execute(
            "INSERT INTO group_plan_items (plan_id, community_id, rank, sku_id, source, price, "
            "threshold, expected_units, p_success, expected_gmv, expected_margin) "
            "VALUES ('SCOPE-TEST', ?, 1, ?, 'rule', 9.9, 3, 5, 0.9, 49.5, 10)",
            [c, sku],
        )
    return "SCOPE-TEST"


def _planning_score(cur, scope, ctx):
    cur.execute("BEGIN")
    try:
        plan_id = _stored_plan(cur, ctx)
        out = planning.score(cur, plan_id, scope)
    finally:
        cur.execute("ROLLBACK")
    return Rows(_comms(out["community_id"]), total=float(out["planned"].iloc[-1]))


def _planning_history(cur, scope, ctx):
    cur.execute("BEGIN")
    try:
        _stored_plan(cur, ctx)
        hist = planning.history(cur, scope=scope)
        planned = planning.score(cur, "SCOPE-TEST", scope)["planned"].iloc[-1]
        items = cur.execute(
            "SELECT plan_id, list(DISTINCT community_id) AS comms FROM group_plan_items "
            "WHERE list_contains(?::VARCHAR[], plan_id) GROUP BY plan_id",
            [list(hist["plan_id"])],
        ).df()
    finally:
        cur.execute("ROLLBACK")
    assert "SCOPE-TEST" in set(hist["plan_id"])
    # The plan's totals are those of the scope's items only.
    expected = len(ctx["truth"]["communities"]) if scope.restricted else len(ctx["all"])
    assert planned == expected
    # Every plan listed has items in the scope (plans wholly elsewhere are not listed).
    allowed = ctx["truth"]["communities"] if scope.restricted else ctx["all"]
    assert all(set(c) & allowed for c in items["comms"])
    return Rows(allowed)


def _reference_regions(cur, scope, ctx):
    regions = reference.regions(cur, scope)["region_id"]
    comm = cur.execute("SELECT community_id, region_id FROM communities").df()
    return Rows(set(comm.loc[comm["region_id"].isin(regions), "community_id"]))


def _reference_warehouses(cur, scope, ctx):
    return Rows(set(), _comms(reference.warehouses(cur, scope=scope)["warehouse_id"]))


def _each_warehouse(cur, fn, scope) -> list[pd.DataFrame]:
    out = []
    for wid in cur.execute("SELECT warehouse_id FROM warehouses").df()["warehouse_id"]:
        try:
            out.append(fn(cur, int(wid), scope))
        except auth.ScopeError:
            pass
    return out


def _reference_fleet(cur, scope, ctx):
    fleets = _each_warehouse(cur, reference.fleet, scope)
    return Rows(set(), set().union(*(_comms(f["warehouse_id"]) for f in fleets)))


def _reference_pickups(cur, scope, ctx):
    points = _each_warehouse(cur, reference.pickups, scope)
    return Rows({ctx["truth"]["pickups"][int(p)] for f in points for p in f["pickup_id"]})


def _reference_communities(cur, scope, ctx):
    return Rows(_comms(reference.communities(cur, scope)["community_id"]))


def _device_status(cur, scope, ctx):
    out = coldchain_store.device_status(cur, datetime(2026, 11, 25, 12), scope=scope)
    return Rows(set(), devices=set(out["device_id"]))


def _sparklines(cur, scope, ctx):
    return Rows(
        set(), devices=set(coldchain_store.sparklines(cur, hours=48, scope=scope)["device_id"])
    )


def _stock_at_risk(cur, scope, ctx):
    every = list(cur.execute("SELECT device_id FROM devices").df()["device_id"])
    _, hi = ctx["window"]
    out = coldchain_store.stock_at_risk(cur, every, hi, scope)
    return Rows(set(), devices=set(out["device_id"]))


def _with_alerts(cur):
    devs = cur.execute("SELECT device_id FROM devices ORDER BY device_id").df()["device_id"]
    cur.execute("BEGIN")
    for i, d in enumerate(devs):
        cur.execute(
            "INSERT INTO alerts (alert_id, device_id, kind, severity, started_at) "
            "VALUES (?, ?, 'high_temp', 'warning', now()::TIMESTAMP)",
            [900_000 + i, d],
        )


def _alarm_history(cur, scope, ctx):
    _with_alerts(cur)
    try:
        out = coldchain_store.alarm_history(cur, datetime(2000, 1, 1), scope=scope)
    finally:
        cur.execute("ROLLBACK")
    return Rows(set(), devices=set(out["device_id"]))


def _acknowledge(cur, scope, ctx):
    _with_alerts(cur)
    try:
        ids = cur.execute("SELECT alert_id, device_id FROM alerts").df()
        acked = set()
        for row in ids.itertuples():
            try:
                if coldchain_store.acknowledge(cur, row.alert_id, "scope-test", scope):
                    acked.add(row.device_id)
            except auth.ScopeError:
                pass
    finally:
        cur.execute("ROLLBACK")
    return Rows(set(), devices=acked)


# ------------------------------------------------------------------------- leaders, coupons
def _leader_points(cur, scope, ctx):
    return Rows(_comms(pickup.points(cur, scope)["community_id"]))


def _leader_pickup_list(cur, scope, ctx):
    seen: set[int] = set()
    day = ctx["window"][1]
    for pid in pickup.points(cur, scope)["pickup_id"]:
        lines = pickup.pickup_list(cur, int(pid), day, scope=scope)
        seen |= _orders_to_communities(cur, lines["order_id"]) if len(lines) else set()
    if scope.restricted:  # a pickup point outside the region is refused, not listed
        outside = next(
            p for p, c in ctx["truth"]["pickups"].items() if c not in ctx["truth"]["communities"]
        )
        with pytest.raises(auth.ScopeError):
            pickup.pickup_list(cur, outside, day, scope=scope)
    return Rows(seen)


def _leader_near_threshold(cur, scope, ctx):
    seen: set[int] = set()
    for pid, cid in pickup.points(cur, scope)[["pickup_id", "community_id"]].itertuples(
        index=False
    ):
        if len(pickup.near_threshold(cur, int(pid), ctx["window"][1], within=1.0, scope=scope)):
            seen.add(int(cid))
    return Rows(seen)


def _leader_planned_groups(cur, scope, ctx):
    day = clock.next_delivery_day(cur)
    cur.execute("BEGIN")
    try:
        cur.execute(
            "INSERT INTO group_plans (plan_id, sale_date, as_of, created_at, rule_text, "
            "settings, status, approved_at) VALUES ('LD-SCOPE', ?, ?, now(), 'r', '{}', "
            "'approved', now())",
            [day, day - timedelta(days=1)],
        )
        for c in sorted(ctx["all"]):
            cur.execute(
                "INSERT INTO group_plan_items (plan_id, community_id, rank, sku_id, source, "
                "price, threshold, expected_units, p_success, expected_gmv, expected_margin) "
                "VALUES ('LD-SCOPE', ?, 1, 1, 'rule', 9.9, 3, 5, 0.9, 49.5, 10)",
                [c],
            )
        seen = {
            int(c)
            for p, c in pickup.points(cur, scope)[["pickup_id", "community_id"]].itertuples(
                index=False
            )
            if len(pickup.planned_groups(cur, int(p), scope=scope))
        }
    finally:
        cur.execute("ROLLBACK")
    return Rows(seen)


def _leader_statement(cur, scope, ctx):
    lo, hi = ctx["window"]
    return Rows(_comms(commission.statement(cur, lo, hi, scope=scope)["community_id"]))


def _leader_ranking(cur, scope, ctx):
    lo, hi = ctx["window"]
    return Rows(_comms(leader_ranking.ranking(cur, lo, hi, scope=scope)["community_id"]))


def _scope_trial(cur) -> str:
    """One coupon trial over every buyer of the last fortnight (issuing again resumes it)."""
    hi = clock.as_of(cur)
    offers = cur.execute(
        "SELECT DISTINCT user_id, 3.0 AS coupon FROM orders WHERE order_date > ?",
        [hi - timedelta(days=14)],
    ).df()
    return coupon_issue.issue(
        cur, offers, hi - timedelta(days=6), send=lambda **_: True, username="scope-test"
    ).trial_id


def _coupon_trials(cur, scope, ctx):
    _scope_trial(cur)
    trials = coupon_issue.trials(cur, scope)
    n = float(trials["n_coupon"].sum() + trials["n_holdout"].sum())
    comms = ctx["truth"]["communities"] if scope.restricted else ctx["all"]
    return Rows(comms if n else set(), total=n)


def _coupon_outcomes(cur, scope, ctx):
    out = coupon_uplift.outcomes(cur, _scope_trial(cur), scope)
    return Rows(_comms(out["community_id"]))


def _coupon_measure(cur, scope, ctx):
    u = coupon_uplift.measure(cur, _scope_trial(cur), scope=scope)
    n = coupon_uplift.outcomes(cur, u.trial_id, scope)
    assert u.n_coupon + u.n_holdout == len(n)
    return Rows(_comms(n["community_id"]), total=float(len(n)))


def _replayed_plan(cur, _cache={}) -> str:  # noqa: B006 - one plan per session
    """A plan for a past sale day (so it can be scored), built and saved once."""
    if "id" not in _cache:
        _, hi = kpis.data_range(cur)
        plan = planning.build(cur, hi - timedelta(days=6), planning.PlanSettings(route=False))
        _cache["id"] = planning.save(cur, plan)
    return _cache["id"]


def _outcome_funnel(cur, scope, ctx):
    return Rows(_comms(outcomes.funnel(cur, _replayed_plan(cur), scope)["community_id"]))


def _outcome_score(cur, scope, ctx):
    out = outcomes.score(cur, _replayed_plan(cur), scope)
    rows = out.communities
    return Rows(_comms(rows["community_id"]), total=float(rows["views"].iloc[-1]))


ENTRY_POINTS = {
    "kpis.community_ranking": _kpi_ranking,
    "kpis.by_region": _kpi_by_region,
    "kpis.gmv (and every KPI, see test_auth.py)": _kpi_gmv,
    "segmentation.pipeline.run": _segmentation_run,
    "segmentation.pipeline.persona_trend": _persona_trend,
    "segmentation.features.user_features": _user_features,
    "segmentation.churn.fit_score": _churn,
    "segmentation.koc.rank": _koc,
    "segmentation.geo.density": _density,
    "segmentation.profiles.community_table": _community_table,
    "basket.slices.transactions": _basket_transactions,
    "basket.slices.margins": _basket_margins,
    "basket.slices.bundles_by_type": _basket_bundles,
    "rules.evaluation.evaluate": _rules_evaluate,
    "rules.evaluation.evaluate_many": _rules_evaluate_many,
    "rules.backtest.backtest": _rules_backtest,
    "forecasting.demand.history": _demand_history,
    "forecasting.outlook.compute": _outlook,
    "forecasting.fanout.training_frame": _fanout_training_frame,
    "purchasing.stock": _purchasing_stock,
    "lots.near_expiry": _lots_near_expiry,
    "pricing.data.campaigns": _pricing_campaigns,
    "pricing.data.communities": _pricing_communities,
    "pricing.data.user_segments": _pricing_user_segments,
    "pricing.data.segment_lines": _pricing_segment_lines,
    "pricing.whatif.simulate": _whatif_simulate,
    "pricing.whatif.optimise": _whatif_optimise,
    "pricing.whatif.curve": _whatif_curve,
    "pricing.markdown.demand_for_sku": _markdown_demand,
    "pricing.markdown.near_expiry": _markdown_near_expiry,
    "pricing.markdown.where_listed": _markdown_where_listed,
    "routing.orders.order_lines": _dispatch_order_lines,
    "routing.dispatch.plan_day": _dispatch_plan_day,
    "routing.dispatch.plan_lines": _dispatch_plan_lines,
    "routing.fanout.day_stops": _fanout_day_stops,
    "planning.build": _planning_build,
    "planning.score": _planning_score,
    "planning.history": _planning_history,
    "reference.regions": _reference_regions,
    "reference.warehouses": _reference_warehouses,
    "reference.fleet": _reference_fleet,
    "reference.pickups": _reference_pickups,
    "reference.communities": _reference_communities,
    "coldchain.store.device_status": _device_status,
    "coldchain.store.sparklines": _sparklines,
    "coldchain.store.stock_at_risk": _stock_at_risk,
    "coldchain.store.alarm_history": _alarm_history,
    "coldchain.store.acknowledge": _acknowledge,
    "leaders.pickup.points": _leader_points,
    "leaders.pickup.pickup_list": _leader_pickup_list,
    "leaders.pickup.near_threshold": _leader_near_threshold,
    "leaders.pickup.planned_groups": _leader_planned_groups,
    "leaders.commission.statement": _leader_statement,
    "leaders.ranking.ranking": _leader_ranking,
    "coupons.issue.trials": _coupon_trials,
    "coupons.uplift.outcomes": _coupon_outcomes,
    "coupons.uplift.measure": _coupon_measure,
    "outcomes.funnel": _outcome_funnel,
    "outcomes.score": _outcome_score,
}

# Entry points (connection first) that return no rows belonging to a region, and why.
NO_REGION_ROWS = {
    "actions.alarms.check": "queues alarm messages for each alarm's own regional channel; counts",
    "actions.channels.channels": "the channel configuration; admin page only",
    "actions.channels.remove_channel": "writes the channel configuration",
    "actions.channels.resolve": "the URLs of one channel name",
    "actions.channels.set_channel": "writes the channel configuration",
    "actions.channels.set_contact": "writes one leader's or supplier's address",
    "actions.digest.anomalies": "the regions it is given, for their manager's digest; no page",
    "actions.digest.build": "one manager's digest over that manager's regions; no page shows it",
    "actions.digest.send_all": "queues each manager's digest of their own regions; counts",
    "actions.digest.targets": "the managers (or regions) that get a digest",
    "actions.jobs.last_runs": "the scheduled jobs' runs; admin page only",
    "actions.jobs.run": "records a job run",
    "actions.outbox.claim": "the sender's queue (admin page and the background sender)",
    "actions.outbox.counts": "message counts per kind and status; admin page only",
    "actions.outbox.deliver": "the background sender",
    "actions.outbox.enqueue": "writes one message",
    "actions.outbox.mark_failed": "the background sender",
    "actions.outbox.mark_sent": "the background sender",
    "actions.outbox.message": "one message by key; admin page only",
    "actions.outbox.messages": "the outbox with delivery status; admin page only",
    "actions.outbox.recover": "the background sender at start",
    "actions.outbox.release": "the background sender",
    "actions.outbox.requeue": "admin requeues a dead message",
    "actions.publish.publications": "what one plan's publications sent; admin page only",
    "actions.publish.publish": "publishes a plan the caller built and approved in scope; counts",
    "actions.publish.settle": "fills published listings' outcomes from orders; a count",
    "actions.publish.store_purchase": "stores a plan's purchase lines",
    "actions.publish.storefront": "a whole plan's listings for the storefront channel; no page",
    "afterload.rebuild": "rebuilds rollups after a load, returns a date",
    "afterload.run": "finishes a load (rollups, version, audit), returns nothing",
    "afterload.refresh_days": "refreshes the rollups of some days after a load, returns nothing",
    "audit.entries": "the audit log; only the admin page reads it",
    "availability.empty_tables": "which tables are empty, no rows",
    "availability.gaps": "features switched off by empty tables, no rows",
    "availability.health": "per-table counts and dates over the whole database; data page only",
    "availability.missing": "which tables a feature lacks, no rows",
    "availability.require": "raises when a feature's tables are empty, returns nothing",
    "audit.record": "writes the audit log",
    "auth.authenticate": "checks one user's password",
    "auth.create_user": "writes a user",
    "auth.find_user": "one user's role and scope",
    "auth.users": "the local user accounts; only the admin page reads them",
    "basket.slices.community_types": "the list of community types",
    "clock.as_of": "a date",
    "clock.next_delivery_day": "a date",
    "clock.order_span": "the first and last order dates",
    "clock.world_today": "a date",
    "dataset.quarantine": "rejected import rows, not yet any region's; admin's data page only",
    "dataset.status": "table row counts and the import log; admin's data page only",
    "dataset.version": "a cache token",
    "db.ensure_schema": "schema maintenance",
    "db.get_meta": "a metadata value",
    "db.schema_version": "the schema version",
    "db.set_meta": "writes a metadata value",
    "db.verify": "reads every block once to find damage on open; returns nothing",
    "forecasting.demand.holidays": "the public-holiday calendar",
    "forecasting.anchor.anchor": "rescales a model by warehouse; planning.build scopes its rows",
    "forecasting.anchor.listing_share": "model input for anchor's per-warehouse ratios, not shown",
    "forecasting.anchor.plan_demand": "the plan's demand model and its note; planning.build scopes its rows",
    "forecasting.store.ensure": "a fit per scope key: outlook.compute's rows for that scope",
    "forecasting.store.fit_and_store": "stores outlook.compute(scope) under the scope's key",
    "forecasting.store.fit_id": "an id and a version, looked up by the scope's key",
    "forecasting.store.job": "a background job's progress",
    "forecasting.store.latest": "the fit stored under the scope's key (outlook.compute's rows)",
    "forecasting.store.load": "a fit by id; ids come from fit_id / latest for the scope",
    "forecasting.store.refit": "starts outlook.compute(scope) in the background",
    "forecasting.store.save": "writes a fit under the scope's key",
    "forecasting.weather.ahead": "the city's weather forecast, no community rows",
    "kpis.data_range": "the first and last day of data",
    "kpis.rollups.refresh_rollups": "rebuilds rollups, returns nothing",
    "planning.approve": "marks a plan approved (audited)",
    "planning.save": "stores a plan the caller built in scope",
    "pricing.data.catalogue": "the SKU catalogue",
    "pricing.data.attachments": "SKU pairs counted over the scope's orders, no community rows",
    "pricing.data.span_days": "a day count",
    "pricing.data.window": "a date range",
    "pricing.response.fit": "a model; its per-community outputs go through whatif and markdown",
    "pricing.response.with_level": "a model rescaled; its outputs go through whatif",
    "pricing.response.calibrated": "maps raw probabilities through the calibration",
    "pricing.response.expected_units": "arithmetic on the community ids the caller passes",
    "pricing.response.predict_campaigns": "predicts the campaign rows the caller passes",
    "pricing.elasticity.by_segment": "elasticities pooled over all regions, no region rows",
    "pricing.elasticity.estimate": "elasticities pooled over all regions, no region rows",
    "purchasing.suppliers": "the supplier list",
    "pricing.evidence.reference_prices": "reference prices per SKU, no community rows",
    "pricing.whatif.evaluate": "scores exactly the campaigns the caller passes (no lookup)",
    "pricing.costs.stop_costs": "cost terms of every pickup stop (van cost per km and per day), "
    "input of the cost model; callers show them only inside the plan's scoped communities",
    "pricing.costs.defaults": "the cost model's terms, input of the optimiser; the plan keeps "
    "only the caller's scoped communities",
    "reference.service_areas": "outlines drawn under the maps; no orders, customers or figures",
    "rules.compile.create_sales_daily": "creates a temporary table for a backtest",
    "rules.library.delete": "the shared rule library",
    "rules.library.list_rules": "the shared rule library",
    "rules.library.load": "the shared rule library",
    "rules.library.save": "the shared rule library",
    "rules.library.seed_library": "the shared rule library",
    "segmentation._inputs.communities": "the scope helper itself (covered through its callers)",
    "segmentation._inputs.restriction": "the scope helper itself (covered through its callers)",
    "segmentation.features.buyers_between": "internal: called with an already scoped id list",
    "segmentation.features.ensure_rollup": "rollup maintenance",
    "segmentation.features.refresh_rollup": "rollup maintenance",
    "segmentation.features.source": "the name of a table",
    "coldchain.store.history_alarms": "writes the alarms of generated history (data generator)",
    "coldchain.store.scoped_devices": "the scope helper itself (covered through its callers)",
    "coldchain.store.write_alerts": "writes alarm changes from the alarm engine",
    "leaders.commission.settle": "writes one settlement; refuses leaders outside the scope "
    "(tests/engine/test_leaders.py)",
    "calibration.outcomes": "training data of the platform-wide success calibration, not shown",
    "calibration.update": "refits the platform-wide success calibration (no rows returned)",
    "calibration.current": "the latest platform-wide calibration (two numbers)",
    "coupons.issue.issue": "writes a trial; users outside the scope are not eligible "
    "(tests/engine/test_coupons.py)",
    "lake.export.export": "the batch layer: writes the whole database to the lake (no rows shown)",
    "lake.export.append": "the batch layer: appends a load's days to the lake (no rows shown)",
    "lake.views.attach": "creates views over the lake; reads through them are scoped as on a file",
}

KPI_FUNCTIONS = {
    "active_buyers", "aov", "by_category", "gmv", "group_success_rate",
    "inventory_turnover_days", "leader_commission", "loss_rate", "nps", "on_time_rate",
    "paid_orders", "pickup_hours", "repurchase_rate", "repurchase_trend", "summary", "trend",
}  # fmt: skip


def _engine_entry_points() -> set[str]:
    names = set()
    for info in pkgutil.walk_packages(engine.__path__, "engine."):
        mod = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != mod.__name__:
                continue
            params = list(inspect.signature(fn).parameters)
            if params and params[0] in ("con", "cur", "conn", "connection", "model"):
                names.add(f"{mod.__name__.removeprefix('engine.')}.{name}")
    return names


def test_every_entry_point_is_listed():
    """A new engine function reading the database must get a scope test or a reason."""
    listed = {k.split(" ")[0] for k in ENTRY_POINTS} | set(NO_REGION_ROWS)
    listed |= {f"kpis.{k}" for k in KPI_FUNCTIONS}  # each checked in test_auth.py
    assert _engine_entry_points() - listed == set()
    assert listed - _engine_entry_points() == set()  # no stale names either


def test_row_scoped_entry_points_take_a_scope():
    """Every row-returning entry point has a ``scope`` (or ``access``) parameter."""
    for name in {k.split(" ")[0] for k in ENTRY_POINTS} | {f"kpis.{k}" for k in KPI_FUNCTIONS}:
        mod, fn = name.rsplit(".", 1)
        params = inspect.signature(getattr(importlib.import_module(f"engine.{mod}"), fn)).parameters
        assert "scope" in params or "access" in params, name


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_regional_manager_never_sees_another_region(world, truth, window, pricing_model, name):
    """Unscoped, the entry point returns rows outside region 3; scoped, only region 3's."""
    cur = world.cursor()
    everyone = set(cur.execute("SELECT community_id FROM communities").df()["community_id"])
    ctx = {"truth": truth, "window": window, "pricing_model": pricing_model, "all": everyone}
    wide = ENTRY_POINTS[name](cur, auth.ALL, ctx)
    narrow = ENTRY_POINTS[name](cur, MANAGER, ctx)

    # The check could fail: without a scope, other regions' rows do come back.
    outside = (
        (wide.communities - truth["communities"])
        | {f"w{w}" for w in wide.warehouses - truth["warehouses"]}
        | (wide.devices - truth["devices"])
    )
    changed = wide.total is not None and wide.total != narrow.total
    assert outside or changed, "the unscoped call returned nothing outside the region"

    assert narrow.communities <= truth["communities"]
    assert narrow.warehouses <= truth["warehouses"]
    assert narrow.devices <= truth["devices"]
    assert narrow.communities or narrow.warehouses or narrow.devices or narrow.total


DISPATCHER = auth.Scope(warehouses=(1,))
WAREHOUSE_ENTRY_POINTS = (
    "reference.warehouses",
    "reference.fleet",
    "reference.pickups",
    "routing.orders.order_lines",
    "routing.dispatch.plan_day",
    "routing.fanout.day_stops",
    "purchasing.stock",
    "pricing.markdown.near_expiry",
    "lots.near_expiry",
    "coldchain.store.device_status",
    "coldchain.store.alarm_history",
    "coldchain.store.stock_at_risk",
)


@pytest.mark.parametrize("name", WAREHOUSE_ENTRY_POINTS)
def test_dispatcher_sees_only_own_warehouse(world, window, name):
    """A warehouse-1 dispatcher gets only warehouse 1's stops, stock and devices."""
    cur = world.cursor()
    comm = cur.execute("SELECT community_id, warehouse_id FROM communities").df()
    own = set(comm.loc[comm["warehouse_id"] == 1, "community_id"])
    dev = cur.execute(
        "SELECT d.device_id, d.kind, d.warehouse_id, p.community_id FROM devices d "
        "LEFT JOIN pickup_points p USING (pickup_id)"
    ).df()
    cab = dev["kind"] == "cabinet"
    own_devices = set(dev.loc[cab & dev["community_id"].isin(own), "device_id"]) | set(
        dev.loc[~cab & (dev["warehouse_id"] == 1), "device_id"]
    )
    pickups = dict(cur.execute("SELECT pickup_id, community_id FROM pickup_points").fetchall())
    everyone = set(comm["community_id"])
    ctx = {"window": window, "all": everyone, "truth": {"pickups": pickups}}
    rows = ENTRY_POINTS[name](cur, DISPATCHER, ctx)
    assert rows.communities <= own
    assert rows.warehouses <= {1}
    assert rows.devices <= own_devices
    assert rows.communities or rows.warehouses or rows.devices


def test_kpis_refuse_a_warehouse_only_scope(world):
    """KPIs are kept per region, so a dispatcher's warehouse scope is refused, not widened."""
    lo, hi = kpis.data_range(world.cursor())
    with pytest.raises(auth.ScopeError, match="per region"):
        kpis.gmv(world.cursor(), lo, hi, scope=DISPATCHER)


def test_request_outside_scope_is_an_error(world):
    """Asking only for another region's rows raises ScopeError rather than returning nothing."""
    with pytest.raises(auth.ScopeError):
        segmentation.run(world.cursor(), regions=[1], with_churn=False, scope=MANAGER)
    with pytest.raises(auth.ScopeError):
        MANAGER.clip_communities(world.cursor(), [1])
