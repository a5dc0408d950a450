"""The dispatcher's what-ifs (engine.routing.fleet): a route driven by hand, an edited fleet."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from engine import reference
from engine.routing import dispatch, fleet
from tests.engine.routing_world import ORDER_DATE, build_day


@pytest.fixture(scope="module")
def day_db():
    """A 12-pickup day around one warehouse with three vans."""
    return build_day(n_pickups=12, n_warehouses=1, vans_per_warehouse=3, seed=3)


@pytest.fixture(scope="module")
def day(day_db):
    """The planned delivery day."""
    settings = dispatch.DispatchSettings(time_limit_s=1)
    return dispatch.plan_day(day_db.cursor(), ORDER_DATE + dt.timedelta(days=1), settings=settings)


def test_planned_order_costs_what_the_plan_says(day):
    """Driving a one-trip route in the planned order gives the plan's km, cost and return."""
    single = day.routes.loc[day.routes["trips"] == 1]
    assert len(single)
    for r in single.itertuples():
        keys = day.route_stops.loc[day.route_stops["vehicle_id"] == r.vehicle_id]
        m = fleet.manual_cost(day, int(r.vehicle_id), keys.sort_values("seq")["stop_key"].tolist())
        assert m["km"] == pytest.approx(r.km, abs=0.01)
        assert m["cost_yuan"] == pytest.approx(r.cost_yuan, abs=0.01)
        assert m["return_min"] == pytest.approx(r.return_min, abs=0.5)
        assert m["late_stops"] == 0


def test_unknown_stops_are_ignored_and_unknown_vehicles_refused(day):
    """Stop keys of no problem are skipped; a vehicle not in the plan is a clear error."""
    r = day.routes.iloc[0]
    keys = day.route_stops.loc[day.route_stops["vehicle_id"] == r["vehicle_id"], "stop_key"]
    with_junk = fleet.manual_cost(day, int(r["vehicle_id"]), ["nowhere", *keys])
    assert with_junk == fleet.manual_cost(day, int(r["vehicle_id"]), list(keys))
    with pytest.raises(ValueError, match="not in this plan"):
        fleet.manual_cost(day, 999, list(keys))


def test_fleet_edits_drop_edit_and_add(day_db):
    """Unticked vans go, edits apply, a new van copies shift and costs and gets the next id."""
    base = reference.fleet(day_db.cursor(), 1)
    edited = pd.DataFrame(
        {
            "use": [True, False, True, True, True],
            "vehicle_id": [1, 2, 3, None, None],
            "plate": ["湘A-X", "湘A1001", "湘A1002", None, "空"],
            "capacity_kg": [900.0, 800.0, 800.0, 500.0, None],
            "capacity_m3": [4.0, 3.0, 3.0, None, 2.0],
            "refrigerated": [True, True, False, True, False],
        }
    )
    out = fleet.apply_fleet_edits(base, edited)
    assert out["vehicle_id"].tolist() == [1, 3, 4]
    assert list(out.columns) == list(base.columns)
    assert out.dtypes.to_dict() == base.dtypes.to_dict()
    first = out.iloc[0]
    assert (first["plate"], first["capacity_kg"], first["capacity_m3"]) == ("湘A-X", 900.0, 4.0)
    new = out.iloc[2]
    assert new["plate"] == "NEW-4" and new["capacity_m3"] == pytest.approx(500 / fleet.KG_PER_M3)
    assert new["shift_start"] == base.iloc[0]["shift_start"]
    assert new["fixed_cost"] == base.iloc[0]["fixed_cost"]


def test_first_vehicle_of_an_empty_warehouse(day_db):
    """A warehouse without vans gets a new van with the default shift and costs, id 1."""
    base = reference.fleet(day_db.cursor(), 1).iloc[0:0]
    edited = pd.DataFrame({"vehicle_id": [None], "plate": ["湘B1"], "capacity_kg": [600.0]})
    out = fleet.apply_fleet_edits(base, edited)
    assert out["vehicle_id"].tolist() == [1]
    assert out.iloc[0]["shift_start"] == fleet.NEW_VEHICLE["shift_start"]
    assert out.iloc[0]["capacity_m3"] == pytest.approx(600 / fleet.KG_PER_M3)
