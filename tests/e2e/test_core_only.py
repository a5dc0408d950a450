"""A core-tables-only database in a real browser: pages render and name the missing tables."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_clean, serve, shot, wait_for_app

# Page → the one-line reason it must show (Chinese, the default language).
REASONS = {
    "overview": "成团率不可用：campaigns 表为空。请在「数据管理」导入 campaigns.csv",
    "pricing": "定价模拟（需求响应模型）不可用：campaigns 表为空",
    "dispatch": "配送调度不可用：vehicles 表为空。请在「数据管理」导入 vehicles.csv",
    "data": "NPS不可用：feedback 表为空",
}
TAB = {"data": "数据库状态"}  # the data health sits on this tab


@pytest.fixture(scope="module")
def core_server(core_world_file, tmp_path_factory):
    """`python -m ops.serve` on a copy of the core-tables-only world (no live telemetry)."""
    yield from serve(core_world_file, tmp_path_factory, fit=False, LINLI_MQTT_URL="none")


@pytest.mark.parametrize("stem", list(REASONS))
def test_missing_table_reason_in_browser(core_server, page, stem):
    """The page renders without an error box and shows which table to load and how."""
    page.goto(f"{core_server}/{stem}")
    wait_for_app(page)
    assert_clean(page)
    if stem in TAB:
        page.get_by_role("tab", name=TAB[stem]).click()
        wait_for_app(page)
    reason = page.get_by_text(REASONS[stem], exact=False).first
    reason.wait_for(timeout=60_000)
    assert reason.is_visible()
    shot(page, f"core-only-{stem}")
