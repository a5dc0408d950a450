"""AppTest of the 智能选品 page: write, validate, evaluate, backtest, save and reload a rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "selection.py")


@pytest.fixture
def page(app_env):
    """A factory: a fresh app run switched to the selection page, caches cleared."""

    def make(lang: str = "zh") -> AppTest:
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["lang"] = lang
        at.run()
        at.switch_page(PAGE).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield make
    st.cache_resource.clear()


def editor(at):
    """The rule text area."""
    return next(a for a in at.text_area if a.key == "sel_text")


def button(at, key):
    """The button with this key."""
    return next(b for b in at.button if b.key == key)


def test_default_rule_is_valid_and_evaluated(page):
    """The seeded first rule (云顶华府 example) validates and lists picks for 云顶华府."""
    at = page()
    assert at.title[0].value == "智能选品"
    assert any("规则有效" in s.value for s in at.success)
    picks = at.dataframe[0].value
    assert len(picks) > 0 and set(picks["community_name"]) == {"云顶华府"}
    assert not at.error


def test_bad_rule_shows_position_then_good_rule_evaluates(page):
    """A malformed rule shows its error position; fixing it evaluates across communities."""
    at = page("en")
    editor(at).input("scope all window 30 days where views >= rank by views top 5").run()
    assert any("at character 40" in e.value for e in at.error), [e.value for e in at.error]
    assert "^" in at.code[0].value
    editor(at).input("scope all window 14 days where views >= 1 rank by views desc top 5").run()
    assert not at.error
    picks = at.dataframe[0].value
    assert picks.groupby("community_id").size().max() == 5
    assert picks["community_id"].nunique() > 1


def test_backtest_shows_rules_and_baseline(page):
    """Running a backtest of the current rule lists it and the bestseller baseline."""
    at = page()
    editor(at).input("过去 7 天 筛选 销量 >= 1 排序 毛利 降序 前 5").run()
    next(n for n in at.number_input if n.key == "sel_bt_weeks").set_value(2).run()
    button(at, "sel_bt_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    summary = at.dataframe[-1].value
    assert list(summary["rule"]) == ["当前规则", "上周畅销 / last week's bestsellers"]
    assert summary["hit_rate"].between(0, 1).all()
    assert at.get("plotly_chart")


def test_save_then_reload_in_a_new_session(page):
    """A saved rule appears in the library of a new session and loads into the editor."""
    at = page()
    text = '范围 类型 "老年" 过去 14 天 筛选 类目 = "时蔬" 排序 销量 降序 前 3'
    editor(at).input(text).run()
    next(i for i in at.text_input if i.key == "sel_name").input("老年时蔬").run()
    button(at, "sel_save").click().run()
    assert any("已保存" in s.value for s in at.success)

    fresh = page()
    box = next(s for s in fresh.selectbox if s.key == "sel_pick")
    assert "老年时蔬" in box.options
    box.select("老年时蔬").run()
    button(fresh, "sel_load").click().run()
    assert editor(fresh).value == text
    assert not fresh.error


def test_regional_manager_sees_only_own_communities(app, monkeypatch):
    """A region-1 manager's picks cover only region-1 communities, and saves carry their name."""
    from datetime import datetime

    from engine import auth

    monkeypatch.setenv("LINLI_AUTH", "local")
    user = auth.User("mgr1", "regional_manager", "M", auth.Scope(regions=(1,)))
    at = app("zh", user=user, last_seen=datetime.now())
    at.run()
    at.switch_page(PAGE).run()
    editor(at).input("过去 14 天 排序 销量 降序 前 3").run()
    assert not at.exception, [e.value for e in at.exception]
    picks = at.dataframe[0].value
    from dashboard import db as dash_db

    comm = dash_db.cursor().execute("SELECT name, region_id FROM communities").df()
    regions = set(comm[comm["name"].isin(set(picks["community_name"]))]["region_id"])
    assert regions == {1}
    next(i for i in at.text_input if i.key == "sel_name").input("区域一").run()
    button(at, "sel_save").click().run()
    saved = (
        dash_db.cursor().execute("SELECT author FROM saved_rules WHERE name = '区域一'").fetchall()
    )
    assert saved == [("mgr1",)]
