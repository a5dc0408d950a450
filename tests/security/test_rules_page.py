"""The 智能选品 page shows a hostile rule's message, never a traceback (AppTest, small world)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP, PAGE = str(ROOT / "dashboard" / "app.py"), str(ROOT / "pages" / "selection.py")


@pytest.fixture
def page(app_env):
    """The selection page of a fresh app run in English, caches cleared."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    st.cache_resource.clear()


def enter(at: AppTest, text: str) -> AppTest:
    """Type ``text`` into the rule editor and rerun."""
    next(a for a in at.text_area if a.key == "sel_text").input(text).run()
    assert not at.exception, [e.value[:300] for e in at.exception]
    return at


def test_hostile_rules_show_their_message_and_the_limit_still_evaluates(page):
    """400 parentheses, 3,000 nots and 99999999999 days are errors on the page; 3650 days runs."""
    for text, words in [
        ("where " + "(" * 400 + "units > 1" + ")" * 400, "nested"),
        ("where " + "not " * 3000 + "units > 1", "characters"),
        ("where " + "not " * 600 + "units > 1", "nested"),
        ("where launched within 99999999999 days", "days"),
    ]:
        enter(page, text)
        assert any(words in e.value for e in page.error), [e.value[:200] for e in page.error]
        # Nothing reached evaluation: the only warning is "left out of the backtest".
        assert all("backtest" in w.value for w in page.warning), [w.value for w in page.warning]
    enter(page, "scope all where launched within 3650 days and units >= 1 top 5")
    assert not page.error and not page.warning
    assert len(page.dataframe[0].value) > 0
