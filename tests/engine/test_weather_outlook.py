"""Temperature ahead for the forecaster: loaded forecast first, else climatology + anomaly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.forecasting import demand, weather


def _seasonal(days: int = 1100, seed: int = 0) -> pd.Series:
    """Two-plus years of a planted annual cycle (20 ± 12 °C) with day-to-day noise."""
    idx = pd.date_range("2024-01-01", periods=days)
    rng = np.random.default_rng(seed)
    doy = idx.day_of_year.to_numpy()
    return pd.Series(20 - 12 * np.cos(2 * np.pi * doy / 365) + rng.normal(0, 2, days), index=idx)


def test_outlook_follows_the_season_better_than_persistence():
    """Over the next 60 days, in autumn, the outlook is much closer than last week's mean."""
    temp = _seasonal()
    cut = pd.Timestamp("2026-09-15")
    hist, actual = temp.loc[:cut], temp.loc[cut + pd.Timedelta(days=1) :].head(60)
    ahead = weather.outlook(hist, 60)
    assert ahead.index.equals(actual.index)
    err = float(np.abs(ahead.to_numpy() - actual.to_numpy()).mean())
    persist = float(np.abs(hist.tail(7).mean() - actual.to_numpy()).mean())
    assert err < 0.5 * persist, (err, persist)


def test_outlook_without_a_year_of_history_is_persistence():
    """With under a year of history there is no usual weather: last week's mean is used."""
    temp = _seasonal(200)
    ahead = weather.outlook(temp, 10)
    assert np.allclose(ahead.to_numpy(), temp.tail(7).mean())


def test_planning_exog_uses_a_loaded_forecast():
    """Days with a loaded forecast take it; the others the outlook."""
    temp = _seasonal(800)
    frame = pd.DataFrame({"unique_id": "a", "ds": temp.index, "y": 1.0, "tmax": temp.to_numpy()})
    frame = frame.assign(listed=1.0, discount=0.1, category="水果", topic_trend=1.0)
    last = temp.index.max()
    loaded = pd.DataFrame({"ds": [last + pd.Timedelta(days=1)], "tmax": [41.0]})
    out = demand.planning_exog(frame, 5, weather_forecast=loaded).set_index("ds")["tmax"]
    assert out.iloc[0] == 41.0
    assert np.allclose(out.iloc[1:].to_numpy(), weather.outlook(temp, 5).iloc[1:].to_numpy())
