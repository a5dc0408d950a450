"""定价模拟 page: curves with the optimum, the optimiser, scenarios and the clearance planner."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import nav
from tests.pages.conftest import APP

PAGE = str(nav.ROOT / "pages" / "pricing.py")


@pytest.fixture
def app(app_env):
    """AppTest runs that keep the fitted demand model between tests.

    The shared ``app`` fixture clears every cache per test; refitting the model for each test
    would cost ~10 s apiece, and nothing here depends on a cold cache.
    """

    def make(lang: str = "en") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=240)  # the first run fits the model
        at.session_state["lang"] = lang
        return at

    return make


def _open(app, lang="en"):
    at = app(lang)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _values(arr):
    """Plotly stores numeric arrays as typed base64 blobs; decode either form."""
    if isinstance(arr, dict) and "bdata" in arr:
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"])
    return np.asarray(arr, dtype=float)


def _figure(at, key_part):
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        names = [tr.get("name") for tr in spec["data"]]
        if key_part in names:
            return spec
    raise AssertionError(f"no chart with a trace named {key_part!r}")


def test_curve_marks_the_optimum_and_optimiser_runs(app):
    """The price curve shows the optimum; the optimiser fills a per-community table."""
    at = _open(app)
    spec = _figure(at, "Optimum")
    star = next(tr for tr in spec["data"] if tr.get("name") == "Optimum")
    curve = next(tr for tr in spec["data"] if tr.get("name") == "Expected units sold")
    xs = _values(curve["x"])
    assert xs.min() <= _values(star["x"])[0] <= xs.max()
    n_tables = len(at.dataframe)
    at.button(key="pr_run_opt").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) == n_tables + 1
    opt = at.dataframe[0].value
    ok = opt[opt["feasible"]]
    assert len(ok) >= 1 and (ok["p_success"] >= 0.9 - 1e-9).all()


def test_scenarios_and_clearance(app):
    """A −10 % what-if shows deltas, saved scenarios are compared, clearance beats fixed plans.

    One app run for both (each run fits the demand model again: caches are cleared per test).
    """
    at = _open(app)
    at.button(key="pr_run_scen").click().run()
    assert not at.exception, [e.value for e in at.exception]
    labels = {m.label: m for m in at.metric}
    assert labels["Expected units sold"].delta.startswith("+")
    at.button(key="pr_save_scen").click().run()
    at.slider(key="pr_scen_change").set_value(10).run()
    at.text_input(key="pr_scen_name").input("plus ten").run()
    at.button(key="pr_run_scen").click().run()
    at.button(key="pr_save_scen").click().run()
    assert not at.exception, [e.value for e in at.exception]
    comp = next(d.value for d in at.dataframe if "price_change" in d.value.columns)
    assert list(comp["name"]) == ["Scenario 1", "plus ten"]
    assert comp["price_change"].tolist() == [-0.1, 0.1]

    at.button(key="pr_run_clear").click().run()
    assert not at.exception, [e.value for e in at.exception]
    money = {m.label: m.value for m in at.metric if m.value.startswith("¥")}
    vals = {k: float(v.replace("¥", "").replace(",", "")) for k, v in money.items()}
    best = vals["Dynamic markdown (optimal)"]
    assert best >= vals["No markdown"] - 1e-6 and best >= vals["Fixed 30 % off"] - 1e-6


def test_elasticities_by_user_segment(app):
    """The elasticity tab regroups by a stated user attribute with intervals per segment."""
    at = _open(app)
    at.selectbox(key="pr_el_by").set_value("User age band").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "segment" in d.value.columns)
    assert len(table) >= 3
    assert (table["ci_low"] <= table["elasticity"]).all()
    assert (table["elasticity"] < 0).all()


def test_optimum_stays_in_the_observed_range_unless_extrapolation_is_allowed(app):
    """The starred optimum lies inside the shaded observed range and the optimiser flags no
    price; allowing extrapolation lets the optimiser leave the range, flagged in its table."""
    at = _open(app)
    spec = _figure(at, "Optimum")
    star = float(_values(next(tr for tr in spec["data"] if tr.get("name") == "Optimum")["x"])[0])
    band = next(s for s in spec["layout"]["shapes"] if s.get("type") == "rect")
    assert band["x0"] - 0.01 <= star <= band["x1"] + 0.01
    assert any("Observed listing prices" in c.value for c in at.caption)
    at.button(key="pr_run_opt").click().run()
    opt = at.dataframe[0].value
    assert not opt["extrapolated"].any()
    at.checkbox(key="pr_extrapolate").check().run()
    at.button(key="pr_run_opt").click().run()
    assert not at.exception, [e.value for e in at.exception]
    wide = at.dataframe[0].value
    assert "extrapolated" in wide.columns
    if wide["extrapolated"].any():
        assert any("outside the observed range" in w.value for w in at.warning)
