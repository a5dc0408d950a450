"""The 关联推荐 page: rules, network, bundles and also-bought on the small world."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from dashboard import basket as bk
from dashboard import nav
from engine import auth


@pytest.fixture
def page(app):
    """The basket page opened in English on the small world's full date range."""

    def open_page(**state):
        at = app("en", **state)
        at.run()
        lo, hi = at.sidebar.date_input[0].min, at.sidebar.date_input[0].max
        at.sidebar.date_input[0].set_value((lo, hi)).run()
        at.switch_page(str(nav.ROOT / "pages" / "basket.py")).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def test_basket_page_shows_planted_rule_and_exports(page):
    """The rule table lists steak -> black-pepper sauce, with KPI cards and download buttons."""
    at = page()
    assert at.title[0].value == "Baskets"
    labels = [m.label for m in at.metric]
    assert labels == ["Orders", "Items", "Rules", "Top lift"]
    rules = at.dataframe[0].value
    pair = rules[(rules["antecedents"] == "西冷牛排") & (rules["consequents"] == "黑胡椒酱")]
    assert len(pair) == 1 and 0.7 <= pair.iloc[0]["confidence"] <= 0.9
    assert len(at.get("download_button")) >= 2


def test_basket_network_and_bundles_render(page):
    """The network chart carries item nodes and the bundle table scores per community type."""
    at = page()
    charts = at.get("plotly_chart")
    assert charts, "no network chart"
    spec = json.loads(charts[0].proto.spec)
    names = {n for trace in spec["data"] if trace.get("name") == "items" for n in trace["text"]}
    assert {"西冷牛排", "黑胡椒酱"} <= names
    bundles = at.dataframe[1].value
    assert bundles["score"].is_monotonic_decreasing or bundles["community_type"].nunique() > 1
    assert set(bundles["size"]) <= {2, 3}


def test_basket_filters_change_rule_table(page):
    """Searching an item keeps only rules mentioning it; raising confidence shrinks the set."""
    at = page()
    before = len(at.dataframe[0].value)
    at.text_input(key="bk_search").input("黑胡椒酱").run()
    searched = at.dataframe[0].value
    assert 0 < len(searched) < before
    assert all(
        "黑胡椒酱" in a or "黑胡椒酱" in c
        for a, c in zip(searched["antecedents"], searched["consequents"], strict=True)
    )
    at.slider(key="bk_conf").set_value(0.9).run()
    assert not at.exception
    assert len(at.dataframe[0].value) < len(searched) or at.info


def test_filter_rules_rejects_unknown_sort():
    """Sorting by an unknown column raises ValueError."""
    with pytest.raises(ValueError, match="sort"):
        bk.filter_rules(bk.basket.empty_rules(), "", 1.0, "price")


def test_regional_manager_sees_only_own_region_orders(app, monkeypatch):
    """A region-1 manager's basket page counts fewer orders than the unscoped page."""

    def orders_shown(at) -> int:
        return int(next(m.value for m in at.metric if m.label == "Orders").replace(",", ""))

    at = app("en")
    at.run()
    at.switch_page(str(nav.ROOT / "pages" / "basket.py")).run()
    everyone = orders_shown(at)
    monkeypatch.setenv("LINLI_AUTH", "local")
    user = auth.User("m", "regional_manager", "M", auth.Scope(regions=(1,)))
    at = app("en", user=user, last_seen=datetime.now())
    at.run()
    at.switch_page(str(nav.ROOT / "pages" / "basket.py")).run()
    assert not at.exception
    assert 0 < orders_shown(at) < everyone


def test_network_draws_rule_and_reverse_as_one_double_arrow():
    """A rule and its reverse become one double-headed arrow between two labelled nodes."""
    tx = pd.DataFrame({"order_id": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "c"]})
    fig = bk.network(bk.basket.rules(tx, 0.3, 0.5), top=10)
    assert len(fig.layout.annotations) == 1
    assert fig.layout.annotations[0].arrowside == "end+start"
    nodes = next(tr for tr in fig.data if tr.name == "items")
    assert set(nodes.text) == {"a", "b"}
