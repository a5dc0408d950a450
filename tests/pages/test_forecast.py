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
