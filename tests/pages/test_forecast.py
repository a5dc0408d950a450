"""The 需求预测 page: forecast, drivers, accuracy against baselines and purchase orders."""

from __future__ import annotations

from dashboard import nav

PAGE = str(nav.ROOT / "pages" / "forecast.py")


def test_forecast_page_shows_kpis_chart_and_orders(app):
    """The page renders KPI cards, the chart, accuracy tables and downloadable orders."""
    at = app("en")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    assert "Gain over seasonal naive" in labels and "Forecast units, next 28 days" in labels
    gain = next(m.value for m in at.metric if m.label == "Gain over seasonal naive")
    assert float(gain.rstrip("%")) > 0
    assert len(at.get("plotly_chart")) == 2
    assert len(at.get("download_button")) >= 4
    assert len(at.dataframe) >= 4


def test_forecast_page_filters_and_week_orders(app):
    """Choosing a category and next week's cover keeps the page working in Chinese."""
    at = app("zh")
    at.run()
    at.switch_page(PAGE).run()
    at.selectbox(key="fc_category").set_value("水果").run()
    assert not at.exception, [e.value for e in at.exception]
    at.segmented_control(key="fc_po_days").set_value(7).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "需求预测"


def test_total_bands_are_calibrated_on_the_totals_holdout():
    """A total's bands come from its hold-out ratios, narrower than summed leaf bounds."""
    import numpy as np
    import pandas as pd

    from dashboard import forecast as fcd

    days = pd.date_range("2026-10-01", periods=28)
    rng = np.random.default_rng(0)
    ratio = 1 + 0.1 * rng.standard_normal(28)  # the total errs by about ±10 %
    hold = pd.DataFrame(
        {"model": "xgboost", "unique_id": "a", "ds": days, "yhat": 100.0, "y": 100.0 * ratio}
    )
    fc = pd.DataFrame(
        {
            "ds": pd.date_range("2026-10-29", periods=7),
            "yhat": 200.0,
            **{f"yhat_lo_{lv}": 0.0 for lv in fcd.LEVELS},
            **{f"yhat_hi_{lv}": 1000.0 for lv in fcd.LEVELS},
        }
    )
    out = fcd.total_bands(fc, hold)
    lo, hi = np.quantile(ratio, [0.1, 0.9])
    assert np.allclose(out["yhat_lo_80"], 200 * lo, rtol=0.02)
    assert np.allclose(out["yhat_hi_80"], 200 * hi, rtol=0.02)
    assert (out["yhat_lo_95"] <= out["yhat_lo_80"]).all()
    assert (out["yhat_hi_80"] <= out["yhat_hi_95"]).all()
    # Too short a hold-out keeps the summed leaf bounds.
    assert fcd.total_bands(fc, hold.head(5))["yhat_hi_80"].eq(1000.0).all()
