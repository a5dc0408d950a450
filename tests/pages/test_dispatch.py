"""配送调度 page: routes, map, tables and what-ifs render against the small world."""

from __future__ import annotations

import json

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
