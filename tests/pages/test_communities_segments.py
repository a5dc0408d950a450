"""AppTests of the 社区画像 (Communities) and 用户分群 (Segments) pages."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
COMMUNITIES = "../pages/communities.py"  # relative to dashboard/app.py
SEGMENTS = "../pages/segments.py"


def _app(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page)
    return at.run()


def _deck(at: AppTest) -> dict:
    charts = at.get("deck_gl_json_chart")
    assert charts, "no pydeck chart on the page"
    return json.loads(charts[0].proto.json)


def _download_names(at: AppTest) -> list[str]:
    return [d.proto.label for d in at.get("download_button")]


@pytest.fixture(scope="module")
def env(world_file):
    """App settings for the module's shared, read-only page runs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINLI_DB", str(world_file))
        mp.setenv("LINLI_AUTH", "none")
        mp.setenv("LINLI_MQTT_URL", "none")
        yield world_file


@pytest.fixture(scope="module")
def communities_view(env):
    """One run of the Communities page with its default selection, shared by read-only tests."""
    return _app(COMMUNITIES)


@pytest.fixture
def communities(app_env):
    """A fresh run of the Communities page, for tests that change widgets."""
    return _app(COMMUNITIES)


def test_communities_page_shows_a_profile(communities_view):
    """The default community gets KPI cards, category, KOC and similar-community tables."""
    at = communities_view
    assert not at.exception
    assert at.selectbox(key="cp_community").value == 1
    labels = [m.label for m in at.metric]
    assert "户数" in labels and "渗透率" in labels
    assert len(at.dataframe) >= 3
    assert not at.warning


def test_selecting_another_community(communities):
    """Choosing 幸福里 redraws the profile for it, without errors."""
    at = communities
    at.selectbox(key="cp_community").select(2).run()
    assert not at.exception
    cats = at.dataframe[0].value
    assert "母婴" in set(cats["category"].head(5))


def test_map_spec_has_h3_layer_without_basemap(communities_view):
    """The density map is a pydeck spec with an H3HexagonLayer, pickups and warehouses."""
    spec = _deck(communities_view)
    types = {layer["@@type"] for layer in spec["layers"]}
    assert "H3HexagonLayer" in types
    assert sum(layer["@@type"] == "ScatterplotLayer" for layer in spec["layers"]) == 2
    assert "mapProvider" not in spec  # map_provider=None: renders offline, no basemap
    assert "http" not in str(spec.get("mapStyle", ""))


def test_comparing_communities(communities):
    """Compare mode with three communities shows one column per community and a map."""
    at = communities
    at.segmented_control(key="cp_mode").set_value("compare").run()
    at.multiselect(key="cp_compare").set_value([1, 2, 3]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.shape[1] == 4
    assert "偏好品类 Top 3" in set(table.iloc[:, 0])
    assert "H3HexagonLayer" in {layer["@@type"] for layer in _deck(at)["layers"]}


def test_compare_with_one_community_asks_for_more(communities):
    """Picking a single community in compare mode explains what to do, no exception."""
    at = communities
    at.segmented_control(key="cp_mode").set_value("compare").run()
    at.multiselect(key="cp_compare").set_value([1]).run()
    assert not at.exception
    assert any("至少选择 2 个" in i.value for i in at.info)


def test_communities_downloads(communities_view):
    """Category and KOC tables offer CSV and Excel downloads."""
    names = _download_names(communities_view)
    assert names.count("下载 CSV") >= 2 and names.count("下载 Excel") >= 2


def test_community_without_orders_gives_a_message(app_env, world):
    """A community that had not opened in the chosen period → a clear note, no exception."""
    # `world` is the same seed as the app's file; the app holds that file open.
    cid, opened, first = (
        world.cursor()
        .execute(
            "SELECT community_id, opened, (SELECT min(order_date) FROM orders) FROM communities "
            "ORDER BY opened DESC LIMIT 1"
        )
        .fetchone()
    )
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["flt_dates"] = (first, opened - timedelta(days=1))
    at.switch_page(COMMUNITIES)
    at.run()
    at.selectbox(key="cp_community").select(cid).run()
    assert not at.exception
    assert any("no orders" in i.value for i in at.info)


def test_empty_date_range_gives_a_message(app_env):
    """A reversed date range shows a warning instead of failing."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["flt_dates"] = (date(2026, 11, 20), date(2026, 11, 1))
    at.switch_page(COMMUNITIES)
    at.run()
    assert not at.exception
    assert at.warning


@pytest.fixture(scope="module")
def segments_view(env):
    """One run of the Segments page, shared by read-only tests."""
    return _app(SEGMENTS)


@pytest.fixture
def segments(app_env):
    """A fresh run of the Segments page, for tests that change widgets."""
    return _app(SEGMENTS)


def test_segments_page_sizes_and_risk_list(segments_view):
    """Segment sizes, the trend chart, the churn-risk list and retention offers render."""
    at = segments_view
    assert not at.exception
    sizes = at.dataframe[0].value
    assert {"高价值家庭", "价格敏感大众", "潜力新客", "流失风险", "沉睡"} <= set(sizes.index)
    risk = at.dataframe[2].value if len(at.dataframe) > 2 else None
    assert risk is not None and (risk["churn_prob"] >= 0.5).all()
    assert any("AUC" in m.label for m in at.metric)


def test_segments_threshold_filters_the_list(segments):
    """Raising the minimum churn probability shortens the risk list."""
    at = segments
    before = len(at.dataframe[2].value)
    at.slider(key="sg_min_prob").set_value(0.9).run()
    assert not at.exception
    assert len(at.dataframe[2].value) < before


def test_segments_exports(segments_view):
    """Summary, risk list, offers and the full user table can be downloaded."""
    names = _download_names(segments_view)
    assert names.count("下载 CSV") >= 4 and names.count("下载 Excel") >= 4


def test_segments_short_history_gives_a_message(app_env, world):
    """An end date too early for churn training shows a note and still shows segments."""
    first = world.cursor().execute("SELECT min(order_date) FROM orders").fetchone()[0]
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["flt_dates"] = (first, first + timedelta(days=40))
    at.switch_page(SEGMENTS)
    at.run()
    assert not at.exception
    assert any("未计算流失概率" in i.value for i in at.info)
    assert len(at.dataframe) >= 1
