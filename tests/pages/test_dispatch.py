"""配送调度 page: routes, map, tables and what-ifs render against the small world."""

from __future__ import annotations

import json

import pytest

PAGE = "../pages/dispatch.py"  # relative to dashboard/app.py


def test_dispatch_page_shows_plan_map_and_lists(app):
    """KPIs, a pydeck map with one PathLayer and no basemap, route/stop/pick tables, downloads."""
    at = app("en", dp_limit=1)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    assert "Vehicles used" in labels and "Stops not planned" in labels
    decks = at.get("deck_gl_json_chart")
    assert len(decks) == 1
    spec = json.loads(decks[0].proto.json)
    kinds = [layer["@@type"] for layer in spec["layers"]]
    assert kinds.count("PathLayer") == 1 and "ScatterplotLayer" in kinds
    # no basemap: no provider, and no style URL to fetch (pydeck leaves its sentinel)
    assert spec.get("mapProvider") in (None, "")
    assert spec.get("mapStyle") in (None, "", "__MAP_STYLE__")
    paths = spec["layers"][kinds.index("PathLayer")]["data"]
    assert paths and all(p["path"][0] == p["path"][-1] for p in paths)
    assert len(at.dataframe) >= 4
    assert len(at.get("download_button")) >= 8


def test_dispatch_page_in_chinese_translates_reasons_and_headers(app):
    """The default language labels the page and its KPIs in Chinese."""
    at = app(dp_limit=1)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.title[0].value == "配送调度"
    assert "出车数" in [m.label for m in at.metric]


@pytest.mark.slow
def test_dispatch_manual_reorder_reports_its_cost(app):
    """Reversing a vehicle's stops in the manual editor shows the cost of that order."""
    at = app("en", dp_limit=1)
    at.run()
    at.switch_page(PAGE).run()
    box = at.multiselect(key=next(k for k in at.session_state if str(k).startswith("dp_order_")))
    chosen = list(box.value)
    assert chosen
    box.set_value(list(reversed(chosen))).run()
    assert not at.exception
    assert any("Manual order:" in i.value for i in at.info)


@pytest.mark.slow
def test_dispatch_pin_what_if_moves_the_pickup_to_the_chosen_vehicle(app):
    """Pinning a pickup point to a vehicle re-plans with that pickup on that vehicle's route."""
    at = app("en", dp_limit=1)
    at.run()
    at.switch_page(PAGE).run()
    pin = at.selectbox(key="dp_pin_p_1")
    label = pin.options[1]  # "name (#id)"; index 0 is "(no pin)"
    pin.select(label).run()
    pickup = label.rsplit(" (#", 1)[0]
    vehicle = at.selectbox(key="dp_pin_v_1")
    vehicle.select(vehicle.options[-1]).run()
    plate = vehicle.options[-1].rsplit(" (#", 1)[0]
    assert not at.exception, [e.value for e in at.exception]
    stops = next(df.value for df in at.dataframe if "seq" in df.value.columns)
    served = stops.loc[stops["pickup"] == pickup, "plate"]
    dropped = [df.value for df in at.dataframe if "reason" in df.value.columns]
    assert set(served) <= {plate}
    assert len(served) > 0 or any((d["pickup"] == pickup).any() for d in dropped)


def test_dispatch_with_every_vehicle_switched_off_says_so(app, world):
    """Unticking every van in the fleet what-if stops with a note, not a solver traceback."""
    n = world.cursor().execute("SELECT count(*) FROM vehicles WHERE warehouse_id = 1").fetchone()[0]
    edits = {
        "edited_rows": {i: {"use": False} for i in range(n)},
        "added_rows": [],
        "deleted_rows": [],
    }
    at = app("en", dp_limit=1, dp_wh=1, dp_fleet_1=edits)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No vehicle is in use" in i.value for i in at.info)
