"""AppTest helpers: a fresh app per test against the small world file."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def app(app_env):
    """A factory of AppTest runs of the real entry script, caches cleared."""

    def make(lang: str = "zh", **state) -> AppTest:
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=90)
        at.session_state["lang"] = lang
        for k, v in state.items():
            at.session_state[k] = v
        return at

    yield make
    st.cache_resource.clear()
