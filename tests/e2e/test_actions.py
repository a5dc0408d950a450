"""Each page's main action performed in a real browser: the visible result appears, no error."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import (
    assert_clean,
    canvas_colours,
    grid_rows,
    plotly_points,
    shot,
    wait_for_app,
)

LONG = 240_000  # ms; the CI machine is small and the first run of a page fits models


def _open(page, server, stem: str) -> None:
    page.goto(f"{server}/{stem}")
    wait_for_app(page)
    assert_clean(page)


def _metrics(page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()


def _pick_last_option(page, widget) -> str:
    widget.click()
    option = page.locator('[role="option"]').last  # the first one may be "Select all"
    option.wait_for(timeout=LONG)
    text = option.inner_text()
    option.click()
    page.keyboard.press("Escape")
    return text


def test_overview_region_filter_changes_kpis(server, page):
    """Filtering one region in the sidebar changes the KPI cards, charts stay drawn."""
    _open(page, server, "")
    before = _metrics(page)
    assert len(before) == 12
    side = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    _pick_last_option(page, side)
    page.wait_for_function(
        """(b) => { const v = [...document.querySelectorAll('[data-testid="stMetricValue"]')]
                     .map(e => e.innerText); return v.length == 12 && v.join('|') != b; }""",
        arg="|".join(before),
        timeout=LONG,
    )
    wait_for_app(page)
    assert_clean(page)
    after = _metrics(page)
    assert after != before
    assert page.locator(".js-plotly-plot").count() >= 2  # no stock chart without a warehouse
    assert plotly_points(page, 0) > 0
    shot(page, "action-overview-region")


def test_selection_validate_and_evaluate(server, page):
    """A bad rule shows its error position; a good rule is valid and yields a picks table."""
    _open(page, server, "selection")
    editor = page.locator('[data-testid="stTextArea"] textarea').first
    editor.fill("筛选 销量 >>= 1 前 5")
    editor.press("Control+Enter")
    err = page.locator('[data-testid="stAlertContentError"]')
    err.first.wait_for(timeout=LONG)
    assert "第 7 个字符" in err.first.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0

    editor.fill("过去 30 天 筛选 浏览量 >= 1 排序 销量 降序 前 5")
    editor.press("Control+Enter")
    page.get_by_text("规则有效").first.wait_for(timeout=LONG)
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=LONG)
    wait_for_app(page)
    assert_clean(page)
    assert "前 5" in page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
    picks = int(_metrics(page)[1].replace(",", ""))
    assert picks > 0
    assert grid_rows(page.locator('[data-testid="stDataFrame"]').first) == picks
    shot(page, "action-selection-evaluate")


_SUM_Y = """() => { const g = document.querySelector('.js-plotly-plot');
    return g && g._fullData ? g._fullData.reduce((s, t) => s + (t.y || []).reduce((a, b) => a + b, 0), 0)
                       : -1; }"""


def test_forecast_chart_has_data(server, page):
    """The forecast chart shows history and forecast points; choosing a category redraws it."""
    _open(page, server, "forecast")
    assert page.locator(".js-plotly-plot").count() >= 2
    total = plotly_points(page, 0)
    assert total > 50
    before = page.evaluate(_SUM_Y)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.locator('[role="option"]').nth(1).click()  # the first category ("all" is option 0)
    page.wait_for_function(f"() => ({_SUM_Y})() != {before}", timeout=LONG)
    wait_for_app(page)
    assert_clean(page)
    assert plotly_points(page, 0) > 50
    assert grid_rows(page.locator('[data-testid="stDataFrame"]').first) >= 3  # model accuracy
    shot(page, "action-forecast")


def test_basket_rules_and_network(server, page):
    """Rules are mined into a filled table and the network tab draws a graph."""
    _open(page, server, "basket")
    n_rules = int(_metrics(page)[2].replace(",", ""))
    assert n_rules > 0
    assert grid_rows(page.locator('[data-testid="stDataFrame"]').first) > 0
    page.get_by_role("tab", name="关联网络").click()
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=LONG)
    wait_for_app(page)
    assert_clean(page)
    assert plotly_points(page, 0) > 0
    shot(page, "action-basket-network")


def test_dispatch_solves_routes(server, page):
    """Routes are solved: the deck map draws layers and the vehicle table has rows; the other
    solver solves too."""
    _open(page, server, "dispatch")
    deck = page.locator('[data-testid="stDeckGlJsonChart"]').first
    deck.wait_for(state="visible", timeout=LONG)
    assert deck.locator("canvas").count() >= 1
    tables = page.locator('[data-testid="stDataFrame"]:visible')  # not the fleet editor
    vehicles = grid_rows(tables.first)
    assert vehicles > 0
    page.wait_for_timeout(1500)  # deck.gl draws on the next animation frames
    assert canvas_colours(deck) > 4
    solver = page.locator('[data-testid="stSelectbox"]').nth(1)
    solver.click()
    page.get_by_role("option", name="ortools").click()
    wait_for_app(page)
    assert_clean(page)
    assert grid_rows(tables.first) > 0
    shot(page, "action-dispatch-routes")


def _received(page) -> int:
    text = page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text(timeout=LONG)
    m = re.search(r"已接收 ([\d,]+) 条", text)
    assert m, text
    return int(m.group(1).replace(",", ""))


def test_coldchain_live_update_arrives(server, page):
    """The live panel's received-reading count grows within a minute without a reload."""
    _open(page, server, "coldchain")
    page.get_by_text("已接收").first.wait_for(timeout=LONG)
    first = _received(page)
    deadline = time.time() + 60
    now = first
    while now == first and time.time() < deadline:
        page.wait_for_timeout(2000)
        now = _received(page)
    assert now > first, f"no new reading in 60 s (still {first})"
    assert page.locator('[data-testid="stDeckGlJsonChart"]').count() == 1
    assert grid_rows(page.locator('[data-testid="stDataFrame"]').first) > 0
    assert_clean(page)
    shot(page, "action-coldchain-live")


def test_data_status_tab(server, page):
    """The database status tab lists the tables with their row counts."""
    _open(page, server, "data")
    page.get_by_role("tab", name="数据库状态").click()
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for(state="visible", timeout=LONG)
    assert grid_rows(table) >= 10
    assert_clean(page)
    shot(page, "action-data-status")


def test_admin_creates_user(server, page):
    """Creating a local user through the form confirms it and lists it in the users table."""
    _open(page, server, "admin")
    name = f"e2e_{int(time.time())}"
    page.get_by_text("新增用户").first.click()
    wait_for_app(page)
    form = page.locator('[data-testid="stForm"]')
    form.get_by_label("用户名").fill(name)
    form.get_by_label("密码").fill("e2e-secret-123")
    assert form.get_by_label("用户名").input_value() == name
    form.get_by_role("button", name="创建").click()
    try:
        page.get_by_text(f"已创建用户 {name}").wait_for(timeout=LONG)
    except PlaywrightTimeout:  # fail with what the page said instead
        alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
        pytest.fail(f"no confirmation of {name}; the page shows: {alerts}")
    wait_for_app(page)
    assert_clean(page)
    # The table is drawn above the form, so it shows the new user from the next run on.
    page.reload()
    wait_for_app(page)
    users = page.locator('[data-testid="stDataFrame"]').first
    users.get_by_text(name).first.wait_for(state="attached", timeout=LONG)
    assert_clean(page)
    shot(page, "action-admin-users")


def test_pricing_curve_and_optimiser(server, page):
    """The price curve has points and the optimiser fills a per-community table."""
    _open(page, server, "pricing")
    assert plotly_points(page, 0) > 10
    page.get_by_role("button", name="运行优化").click()
    page.get_by_text("各小区最优价格与门槛").first.wait_for(timeout=LONG)
    wait_for_app(page)
    assert_clean(page)
    assert grid_rows(page.locator('[data-testid="stDataFrame"]:visible').first) > 0
    shot(page, "action-pricing-optimiser")


def test_plan_builds(server, page):
    """Building tomorrow's plan shows its KPI cards, the category mix chart and the lists."""
    _open(page, server, "plan")
    page.get_by_role("button", name="生成计划").click()
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=LONG)
    wait_for_app(page)
    assert_clean(page)
    assert len(_metrics(page)) == 8
    assert int(_metrics(page)[1].replace(",", "")) > 0  # items in the lists
    assert plotly_points(page, 0) > 0
    assert grid_rows(page.locator('[data-testid="stDataFrame"]:visible').first) > 0
    shot(page, "action-plan")


def test_communities_switch_community(server, page):
    """Choosing another community changes its profile cards; the H3 density map draws."""
    _open(page, server, "communities")
    before = _metrics(page)
    assert before
    _pick_last_option(page, page.locator('[data-testid="stSelectbox"]').first)
    page.wait_for_function(
        """(b) => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
                  .map(e => e.innerText).join('|') != b""",
        arg="|".join(before),
        timeout=LONG,
    )
    wait_for_app(page)
    assert_clean(page)
    deck = page.locator('[data-testid="stDeckGlJsonChart"]').first
    deck.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # deck.gl draws on the next animation frames
    assert canvas_colours(deck) > 4
    shot(page, "action-communities")


def test_segments_risk_threshold(server, page):
    """Personas are charted; lowering the minimum churn probability lengthens the risk list."""
    _open(page, server, "segments")
    assert plotly_points(page, 0) > 0
    slider = page.locator('[data-testid="stSlider"]').first
    risk = slider.locator('xpath=following::*[@data-testid="stDataFrame"][1]')
    before = grid_rows(risk)
    track = slider.locator('[role="group"] > div').first
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.click(box["x"] + 1, box["y"] + box["height"] / 2)  # the left end: 0.00
    page.wait_for_function(
        """() => { const s = document.querySelector('[data-testid="stSlider"] input');
                   return s && Number(s.value) === 0; }""",
        timeout=LONG,
    )
    wait_for_app(page)
    assert_clean(page)
    after = grid_rows(risk)
    assert 0 < before < after
    shot(page, "action-segments")
