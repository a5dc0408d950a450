"""明日计划 page: build a plan, see lists and supplier orders, approve, see it in history."""

from __future__ import annotations

from dashboard import nav

PAGE = str(nav.ROOT / "pages" / "plan.py")


def test_build_plan_and_approve(app):
    """Building a plan shows KPI cards and lists; approving records it; history lists it."""
    at = app("en")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any("build the plan" in i.value for i in at.info)
    at.number_input[0].set_value(5).run()
    at.button(key="pl_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    assert "Communities" in labels and "Supplier orders" in labels
    communities = next(m.value for m in at.metric if m.label == "Communities")
    assert int(communities) == 20
    assert len(at.dataframe) >= 3
    at.button(key="pl_approve").click().run()
    assert any("approved" in s.value for s in at.success)
    assert not at.exception


def test_cost_model_is_editable_and_prices_are_flagged(app):
    """A dear delivery stop entered on the page raises thresholds; the list shows each item's
    margin after costs and whether its price is extrapolated."""
    at = app("en")
    at.run()
    at.switch_page(PAGE).run()
    at.number_input(key="pl_stop").set_value(300.0).run()
    at.button(key="pl_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    items = next(d.value for d in at.dataframe if "extrapolated" in d.value.columns)
    assert {"threshold", "expected_net_margin"} <= set(items.columns)
    assert items["threshold"].max() > 1
    assert not items["extrapolated"].any()
