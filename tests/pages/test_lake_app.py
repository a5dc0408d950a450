"""The app runs on a serving database built from the lake (input tables are lake views)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine import lake
from tests.pages.conftest import APP


@pytest.fixture(scope="module")
def world_file(private_world_file) -> Path:
    """This module's own copy of the small world (tests/conftest.py says why)."""
    return private_world_file


@pytest.fixture
def serving_env(world_file, tmp_path, monkeypatch):
    """The small world exported to a lake, built on DuckDB; the app pointed at the result."""
    con = duckdb.connect(str(world_file), read_only=True)
    lake.export(con, tmp_path / "lake")
    con.close()
    lake.build(tmp_path / "lake", tmp_path / "serving.duckdb", "duckdb")
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    return tmp_path / "serving.duckdb"


def _overview(db, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("LINLI_DB", str(db))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    values = {m.label: m.value for m in at.metric}
    st.cache_resource.clear()
    return values


def test_overview_on_the_serving_database_shows_the_original_kpis(
    serving_env, world_file, monkeypatch
):
    """All 12 KPI cards render on the serving DB + lake with the original file's figures."""
    got = _overview(serving_env, monkeypatch)
    want = _overview(world_file, monkeypatch)
    assert len(got) == 12
    assert got == want
