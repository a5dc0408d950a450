"""Coupon trials on the 用户分群 page: sent through the outbox callable, listed, measured."""

from __future__ import annotations

import shutil

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import coupons
from engine import db as dbmod
from tests.pages.conftest import APP

SEGMENTS = "../pages/segments.py"


@pytest.fixture
def own_world(world_file, tmp_path, monkeypatch):
    """A writable copy of the small world (issuing writes trials)."""
    path = tmp_path / "w.duckdb"
    shutil.copy(world_file, path)
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield path
    st.cache_resource.clear()


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lang"] = "en"
    at.switch_page(SEGMENTS)
    return at.run()


def test_the_app_queues_coupons_in_its_outbox(own_world):
    """The page's own sender is the outbox: each coupon-arm user gets one queued message."""
    at = _run()
    assert not at.exception
    at.slider(key="cpn_holdout").set_value(0.3)
    at.button(key="cpn_issue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    trials = next(d.value for d in at.dataframe if "trial_id" in d.value.columns)
    st.cache_resource.clear()  # release the app's handle on the file
    con = dbmod.connect(own_world)  # the app's configuration: one instance per file
    try:
        queued = con.execute(
            "SELECT count(*), count(DISTINCT recipient) FROM outbox WHERE kind = 'coupon'"
        ).fetchone()
    finally:
        con.close()
    assert queued == (trials.iloc[0]["n_coupon"], trials.iloc[0]["n_coupon"])


def test_sending_hands_every_coupon_to_the_outbox_and_lists_the_trial(own_world, monkeypatch):
    """A click issues the offers: coupon-arm users reach the outbox once, the trial is listed."""
    sent: dict[str, dict] = {}

    def enqueue(**msg):
        new = msg["key"] not in sent
        sent.setdefault(msg["key"], msg)
        return new

    monkeypatch.setattr(coupons, "sender", lambda: enqueue)
    at = _run()
    assert not at.exception
    at.slider(key="cpn_holdout").set_value(0.3)
    at.button(key="cpn_issue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success and "Trial CT" in at.success[0].value
    assert sent and all(m["kind"] == "coupon" for m in sent.values())
    trials = next(d.value for d in at.dataframe if "trial_id" in d.value.columns)
    row = trials.iloc[0]
    assert row["n_coupon"] == len(sent) == row["sent"]
    assert row["n_holdout"] == round(0.3 * (row["n_coupon"] + row["n_holdout"]))
    # Issued on the as-of day: no orders after it yet, and the page says so.
    assert any("no orders loaded" in i.value for i in at.info)
