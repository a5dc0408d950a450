"""Admin page, actions panels: channels set per role and region, the outbox, jobs run on demand."""

from __future__ import annotations

import shutil

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import nav
from engine import db
from engine.actions import outbox
from tests.pages.conftest import APP

PAGE = str(nav.ROOT / "pages" / "admin.py")


@pytest.fixture
def admin_app(world_file, tmp_path, monkeypatch):
    """The app on a private copy of the small world (the panels write to it)."""
    path = tmp_path / "w.duckdb"
    shutil.copy(world_file, path)
    con = db.connect(path)
    outbox.enqueue(con, key="k-dead", kind="digest", channel="manager", recipient="m",
                   subject="s", body="b")  # fmt: skip
    con.execute("UPDATE outbox SET status = 'dead', last_error = 'refused'")
    con.close()
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = "en"
    yield at
    st.cache_resource.clear()


def test_admin_sets_a_channel_sees_the_outbox_and_runs_a_job(admin_app):
    """A channel saved in the form is listed; a dead message shows; 'run now' records the job."""
    at = admin_app
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Failed" and m.value == "1" for m in at.metric)
    next(i for i in at.text_input if i.label == "Channel URL").set_value("json://127.0.0.1:9/hook")
    next(b for b in at.button if b.label == "Save channel").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Channel saved" in s.value for s in at.success)
    tables = [d.value for d in at.dataframe]
    assert any("json://127.0.0.1:9/hook" in t.to_string() for t in tables)
    job = next(s for s in at.selectbox if s.label == "Job")
    job.set_value("digest").run()
    at.button(key="act_run_now").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = next(d.value for d in at.dataframe if "job" in d.value.columns)
    row = runs.set_index("job").loc["digest"]
    assert bool(row["ok"]) and '"digests": 3' in row["result"]
