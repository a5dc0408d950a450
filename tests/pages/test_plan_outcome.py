"""明日计划 page: a stored past plan is scored with views and conversion, or says why not."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine import db as dbmod
from engine import kpis, outcomes, planning
from tests.pages.conftest import APP


@pytest.fixture
def replayed(world_file, tmp_path, monkeypatch):
    """A world copy holding one plan for a past sale day."""
    path = tmp_path / "w.duckdb"
    shutil.copy(world_file, path)
    con = dbmod.connect(path)
    _, hi = kpis.data_range(con)
    pid = planning.save(
        con, planning.build(con, hi - timedelta(days=6), planning.PlanSettings(route=False))
    )
    expect = outcomes.score(con, pid).communities
    con.close()
    for k, v in {"LINLI_DB": str(path), "LINLI_AUTH": "none", "LINLI_MQTT_URL": "none"}.items():
        monkeypatch.setenv(k, v)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield path, pid, expect
    st.cache_resource.clear()


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lang"] = "en"
    at.switch_page("../pages/plan.py")
    return at.run()


def test_plan_page_scores_a_past_plan_with_views(replayed):
    """The outcome table lists the plan's communities and a total whose views match the engine."""
    _, pid, expect = replayed
    at = _run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="oc_plan").value == pid
    table = next(d.value for d in at.dataframe if "views" in d.value.columns)
    assert table["views"].iloc[-1] == expect["views"].iloc[-1] > 0
    assert table["community"].iloc[-1] == "Total"
    assert any("not seen" in c.value for c in at.caption)


def test_without_browsing_the_page_says_so(replayed):
    """With no browse events loaded the score still shows and the caption says what is missing."""
    path, _, _ = replayed
    con = dbmod.connect(path)
    con.execute("DELETE FROM browse_events")
    con.close()
    at = _run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "views" in d.value.columns)
    assert table["views"].isna().all() and table["ran"].iloc[-1] > 0
    assert any("No browsing is loaded" in c.value for c in at.caption)
