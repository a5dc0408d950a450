"""Every page on a database with only the core tables: no exception, and the one-line reasons."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import nav
from tests.pages.conftest import APP

# Page → text that must appear (the table to load, or what was derived instead).
REASONS = {
    "pages/overview.py": ["成团率不可用", "campaigns.csv", "NPS不可用", "feedback.csv"],
    "pages/plan.py": ["明日团购计划不可用", "campaigns.csv"],
    "pages/communities.py": ["成团率不可用", "NPS不可用", "chat_activity.csv"],
    "pages/pricing.py": ["定价模拟", "campaigns.csv"],
    "pages/forecast.py": ["由订单明细推算", "天气表为空", "inventory.csv"],
    "pages/dispatch.py": ["配送调度不可用", "vehicles.csv"],
    "pages/coldchain.py": ["冷链监控不可用", "devices.csv"],
    "pages/selection.py": ["browse_events.csv", "topics.csv"],
    "pages/data.py": ["项功能因缺少数据不可用", "chat_activity.csv"],
}


@pytest.fixture
def core_app(core_app_env):
    """An AppTest of the real entry script on the core-tables-only world, caches cleared."""

    def make(lang: str = "zh") -> AppTest:
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=180)
        at.session_state["lang"] = lang
        return at

    yield make
    st.cache_resource.clear()


def _texts(at: AppTest) -> str:
    kinds = ("info", "caption", "warning", "success", "markdown", "error")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


@pytest.mark.parametrize("page", [p.path for p in nav.PAGES])
def test_page_renders_on_core_tables_only(core_app, page, request):
    """The page runs to the end with no exception and shows its missing-table reasons."""
    if page.endswith("forecast.py"):  # the background fit has run (on derived listings)
        request.getfixturevalue("fitted_core_world_file")
    at = core_app()
    at.run()
    if page != nav.PAGES[0].path:
        at.switch_page(str(nav.ROOT / page)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    text = _texts(at)
    for needle in REASONS.get(page, []):
        assert needle in text, (page, needle)
    assert "None" not in [m.value for m in at.metric]


def test_overview_kpis_show_dash_with_reason_in_english(core_app):
    """Uncomputable KPIs read "—" and the English reason names the table to load."""
    at = core_app("en")
    at.run()
    values = {m.label: m.value for m in at.metric}
    assert values["Group success rate"] == "—" and values["NPS"] == "—"
    assert values["GMV (net)"].startswith("¥")
    text = _texts(at)
    assert "Group success rate unavailable: the campaigns table is empty" in text
    assert "Load feedback.csv" in text
