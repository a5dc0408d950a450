"""The 需求预测 page: forecast, drivers, accuracy against baselines and purchase orders."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest

from dashboard import nav
from engine import dataset
from engine import db as dbmod
from engine.forecasting import store

PAGE = str(nav.ROOT / "pages" / "forecast.py")


@pytest.fixture(scope="module")
def fitted(world_file):
    """The small world's model, fitted and stored as the background job would do it."""
    con = dbmod.connect(world_file)
    try:
        store.ensure(con, dataset.version(con))
    finally:
        con.close()


def _wait_for_jobs(timeout: float = 600) -> None:
    """Join every background fit this process started."""
    end = time.monotonic() + timeout
    for j in list(store._JOBS.values()):
        if j.thread is not None:
            j.thread.join(max(end - time.monotonic(), 0))


def test_forecast_page_shows_kpis_chart_and_orders(app, fitted):
    """The page renders KPI cards, the chart, accuracy tables and downloadable orders."""
    at = app("en")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    assert "Gain over seasonal naive" in labels and "Forecast units, next 28 days" in labels
    assert "Gain over profile baseline" in labels
    gain = next(m.value for m in at.metric if m.label == "Gain over seasonal naive")
    assert float(gain.rstrip("%")) > 0
    assert len(at.get("plotly_chart")) == 2
    assert len(at.get("download_button")) >= 4
    assert len(at.dataframe) >= 4


def _fan(at) -> dict:
    """The forecast chart's traces by name: history, forecast and the bands."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return {tr["name"]: tr for tr in spec["data"]}


def _values(v) -> np.ndarray:
    """A trace's numbers: a list, or plotly's base64 typed array ``{dtype, bdata}``."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).astype(float)
    return np.asarray(v, dtype=float)


@pytest.mark.parametrize("category", [None, "水果"])
def test_forecast_page_bands_contain_the_point_forecast(app, fitted, category):
    """On the page, every day's 80 % and 95 % band of the charted total contains the forecast."""
    at = app("zh")
    at.run()
    at.switch_page(PAGE).run()
    if category:
        at.selectbox(key="fc_category").set_value(category).run()
    assert not at.exception, [e.value for e in at.exception]
    traces = _fan(at)
    yhat = _values(traces["预测"]["y"])
    n = len(yhat)
    assert n == 28
    for name in ("80% 区间", "95% 区间"):
        band = _values(traces[name]["y"])  # upper, then lower reversed
        hi, lo = band[:n], band[n:][::-1]
        assert (lo <= yhat + 1e-6).all() and (yhat <= hi + 1e-6).all(), name
        # Around the forecast, not beside it (the old bands had their lower bound on it).
        assert (lo < yhat).all() and (yhat < hi).all(), name


def test_forecast_page_filters_and_week_orders(app, fitted):
    """Choosing a category and next week's cover keeps the page working in Chinese."""
    at = app("zh")
    at.run()
    at.switch_page(PAGE).run()
    at.selectbox(key="fc_category").set_value("水果").run()
    assert not at.exception, [e.value for e in at.exception]
    at.segmented_control(key="fc_po_days").set_value(7).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "需求预测"


def test_forecast_page_never_fits_on_open(app, world_file, tmp_path, monkeypatch):
    """Without a stored fit the page opens at once with progress; the fit lands in the background."""
    fresh = tmp_path / "fresh.duckdb"
    con = dbmod.connect(world_file)
    con.execute("CHECKPOINT")
    con.close()
    fresh.write_bytes(world_file.read_bytes())
    con = dbmod.connect(fresh)
    con.execute("DELETE FROM forecast_fits")
    con.close()
    monkeypatch.setenv("LINLI_DB", str(fresh))
    at = app("en")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.metric  # nothing to show yet, and no fit in the page's own run
    assert any("first time" in i.value for i in at.info), [i.value for i in at.info]
    _wait_for_jobs()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Gain over profile baseline" in [m.label for m in at.metric]
