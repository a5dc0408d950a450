"""Tomorrow's plan on the small world: lists, planted direction, purchasing, routes, replay."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from engine import kpis, planning, purchasing


@pytest.fixture(scope="module")
def plan(world):
    cur = world.cursor()
    _, hi = kpis.data_range(cur)
    return planning.build(cur, hi + timedelta(days=1))


def test_every_community_gets_a_list(world, plan):
    """Each of the 20 communities has a non-empty list no longer than the setting."""
    n = world.cursor().execute("SELECT count(*) FROM communities").fetchall()[0][0]
    sizes = plan.items.groupby("community_id").size()
    assert len(sizes) == n
    assert sizes.min() >= 1 and sizes.max() <= plan.settings.per_community
    assert plan.items.groupby(["community_id", "category"]).size().max() <= (
        plan.settings.max_per_category
    )


def test_chosen_items_meet_success_target(plan):
    """Every chosen item's predicted group-success probability is at least the target."""
    assert (plan.items["p_success"] >= plan.settings.target).all()


def test_lists_differ_by_community_type_in_planted_direction(world, plan):
    """High-end lists carry more 进口精品/水产 and young-family lists more 母婴 than elderly ones."""
    types = world.cursor().execute("SELECT community_id, type FROM communities").df()
    it = plan.items.merge(types, on="community_id")
    share = pd.crosstab(it["type"], it["category"], normalize="index")

    def s(t, cat):
        return float(share.at[t, cat]) if cat in share.columns and t in share.index else 0.0

    assert s("high_end", "进口精品") + s("high_end", "水产") > s("elderly", "进口精品") + s(
        "elderly", "水产"
    )
    assert s("young_family", "母婴") > s("elderly", "母婴")
    assert plan.diversity > 0.3  # communities get their own lists, not one list for all


def test_supplier_orders_follow_the_one_purchasing_policy(plan):
    """Purchase lines order the lists' sale-day demand at the policy's service level (by shelf
    life) less stock and transit, in whole packs; supplier orders sum their lines."""
    p = plan.purchase
    assert len(p) > 0
    d = plan.demand.groupby(["sku_id", "warehouse_id"])["yhat"].sum()
    first = plan.demand[plan.demand["ds"] == plan.demand["ds"].min()]
    # Everything the lists expect is in the demand the policy ordered from.
    assert first["yhat"].sum() == pytest.approx(plan.items["expected_units"].sum())
    assert d.sum() == pytest.approx(plan.items["expected_units"].sum())
    policy = purchasing.Policy()
    assert (p["service_level"] == policy.level_for(p["shelf_life_days"])).all()
    assert (p["qty"] == np.ceil(p["need"] / p["pack_size"] - 1e-9) * p["pack_size"]).all()
    # Next-day suppliers deliver for the sale day itself: its upper bound less stock.
    nd = p[p["lead_time_days"] <= 1]
    assert len(nd) > 0 and (nd["planned_demand"] >= nd["forecast"]).all()
    want = np.maximum(nd["planned_demand"] - nd["on_hand"] - nd["in_transit"], 0)
    np.testing.assert_allclose(nd["need"], want)
    # Slower suppliers' orders arrive after the sale day (the plan notes the shortfall).
    slow = p[p["lead_time_days"] > 1]
    assert (pd.to_datetime(slow["arrival_date"]).dt.date > plan.sale_date).all()
    by_supplier = p.groupby("supplier_id")["qty"].sum()
    got = plan.suppliers.set_index("supplier_id")["units"]
    assert (by_supplier == got.reindex(by_supplier.index)).all()


def test_forecast_page_and_plan_give_a_supplier_the_same_order(world, plan):
    """The forecast page's purchasing path (engine.purchasing.plan on a demand forecast, the
    stock and the suppliers), fed the demand the plan expects, orders exactly what the plan
    orders from one supplier: one policy, not two."""
    cur = world.cursor()
    orders = plan.suppliers.sort_values("units", ascending=False)
    sid = int(orders["supplier_id"].iloc[0])
    keys = plan.demand[["unique_id", "sku_id", "warehouse_id"]].drop_duplicates()
    cat = cur.execute(
        "SELECT sku_id, name, category, shelf_life_days, pack_size, supplier_id, unit_cost "
        "FROM skus WHERE supplier_id = ?",
        [sid],
    ).df()
    keys = keys.merge(cat, on="sku_id")
    stock = purchasing.stock(cur, on=plan.as_of)
    page = purchasing.plan(plan.demand, keys, stock, purchasing.suppliers(cur), plan.as_of, days=1)
    mine = plan.purchase[plan.purchase["supplier_id"] == sid]
    cols = ["warehouse_id", "sku_id", "qty"]
    pd.testing.assert_frame_equal(
        page.lines[cols].reset_index(drop=True), mine[cols].reset_index(drop=True)
    )
    assert int(page.orders["units"].sum()) == int(orders["units"].iloc[0]) > 0


def test_routes_carry_exactly_the_planned_loads(plan):
    """Routed plus dropped stop weights equal the planned expected loads."""
    r = plan.routes
    planned_kg = float((np.ceil(plan.items["expected_units"]) * plan.items["weight_kg"]).sum())
    assert float(r.stops["kg"].sum()) == pytest.approx(planned_kg)
    routed_kg = float(r.route_stops["kg"].sum())
    dropped_kg = float(r.dropped["kg"].sum()) if len(r.dropped) else 0.0
    assert routed_kg + dropped_kg == pytest.approx(planned_kg)
    assert set(r.route_stops["stop_key"]) | set(r.dropped["stop_key"]) == set(r.stops["stop_key"])


def test_replaying_a_past_date_scores_against_reality(world):
    """A plan for a past date is stored and scored: realised success and GMV near expectation."""
    cur = world.cursor()
    _, hi = kpis.data_range(cur)
    past = planning.build(cur, hi - timedelta(days=6), planning.PlanSettings(route=False))
    pid = planning.save(cur, past)
    total = planning.score(cur, pid).iloc[-1]
    assert total["ran"] > 10
    assert abs(total["realised_success"] - total["expected_success"]) < 0.15
    assert 0.5 < total["gmv_ratio"] < 2.0
    hist = planning.history(cur)
    assert pid in set(hist["plan_id"])
    planning.approve(cur, pid, "tester")
    assert (
        cur.execute("SELECT status FROM group_plans WHERE plan_id = ?", [pid]).fetchall()[0][0]
        == "approved"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"target": 1.2}, "target"), ({"per_community": 0}, "at least 1")]
)
def test_bad_settings_are_rejected(kwargs, message):
    """Targets outside (0, 1) and empty lists are refused with a clear message."""
    with pytest.raises(ValueError, match=message):
        planning.PlanSettings(**kwargs)


def test_unknown_community_is_rejected(world):
    """Planning a community that does not exist says so."""
    cur = world.cursor()
    _, hi = kpis.data_range(cur)
    with pytest.raises(ValueError, match="outside your scope or unknown"):
        planning.build(cur, hi + timedelta(days=1), communities=[999])


def test_plan_respects_region_scope(world):
    """A regional manager's plan covers only communities of their regions."""
    from engine.auth import Scope

    cur = world.cursor()
    _, hi = kpis.data_range(cur)
    scoped = planning.build(
        cur, hi + timedelta(days=1), planning.PlanSettings(route=False), scope=Scope(regions=(1,))
    )
    region = dict(cur.execute("SELECT community_id, region_id FROM communities").fetchall())
    assert {region[c] for c in scoped.items["community_id"]} == {1}
    with pytest.raises(ValueError, match="outside your scope"):
        other = [c for c, r in region.items() if r != 1][:1]
        planning.build(cur, hi + timedelta(days=1), communities=other, scope=Scope(regions=(1,)))
