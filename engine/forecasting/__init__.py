"""Demand forecasting on long frames ``unique_id, ds, y`` (+ exogenous), Nixtla convention.

The model modules know nothing of Linli's tables; ``demand`` is the Linli adapter (daily
SKU × warehouse series from the database) and ``outlook`` the forecast the pages show. Use
it as::

    from engine import forecasting
    fc = forecasting.fit_predict(train, h=28, future_exog=future)
    bt = forecasting.backtest(df, h=28, n_windows=2)
    totals = forecasting.rollup(fc, mapping, ["category", "region"])
"""

from engine.forecasting.calendar import load_holidays
from engine.forecasting.evaluation import Backtest, backtest, metrics
from engine.forecasting.hierarchy import rollup
from engine.forecasting.model import Settings
from engine.forecasting.pipeline import (
    MODELS,
    Forecast,
    Model,
    baseline_forecasts,
    fit,
    fit_predict,
    forecast,
    holdout,
    predict,
)

__all__ = [
    "MODELS",
    "Backtest",
    "Forecast",
    "Model",
    "Settings",
    "backtest",
    "baseline_forecasts",
    "fit",
    "fit_predict",
    "forecast",
    "holdout",
    "load_holidays",
    "metrics",
    "predict",
    "rollup",
]
