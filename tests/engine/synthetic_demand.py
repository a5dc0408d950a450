"""Seeded generator of daily demand panels with planted effects, for forecasting tests.

Demand of series i on day d is Poisson with mean
``level_i * weekday[dow] * holiday * heat * promo`` where holiday days lift demand by
``HOLIDAY_LIFT`` (and the two days before a holiday block by ``EVE_LIFT``), hot-category
series gain ``HEAT_SLOPE`` per °C above 30, and promo days by ``PROMO_LIFT``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.forecasting import calendar

WEEKDAY = np.array([0.85, 0.8, 0.85, 0.95, 1.1, 1.3, 1.15])
HOLIDAY_LIFT = 1.8
EVE_LIFT = 1.4
HEAT_SLOPE = 0.08
PROMO_LIFT = 1.6
HEAT_WAVE = ("2025-09-21", "2025-09-29")


def generate(
    n_series: int = 40,
    start: str = "2024-01-01",
    days: int = 730,
    seed: int = 0,
    stock_cap: float = 0.0,
) -> pd.DataFrame:
    """Long frame ``unique_id, ds, y, censored, tmax, promo, category`` plus ``mean``.

    ``mean`` is the true expected demand (before censoring); tests drop it before fitting.
    A share ``stock_cap`` of days carries a stock limit of 60 % of mean demand: sales above
    it are capped and flagged censored.
    """
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=days, freq="D")
    cal = calendar.features(ds, "D", calendar.load_holidays())
    doy = ds.day_of_year.to_numpy()
    # Changsha-like summer peaking near 35 °C around day 200, plus heat waves at random
    # times (so heat is not confounded with season) and one planted late-September heat
    # wave (秋老虎) that tests can forecast through.
    tmax = 22 + 13 * np.sin(2 * np.pi * (doy - 110) / 365) + rng.normal(0, 2.5, days)
    for s in rng.integers(0, days - 8, size=days // 90):
        tmax[s : s + 7] = np.maximum(tmax[s : s + 7], rng.uniform(34, 38, 7))
    wave = (ds >= HEAT_WAVE[0]) & (ds <= HEAT_WAVE[1])
    tmax[wave] = rng.uniform(35, 38, int(wave.sum()))
    holiday = np.where(cal["is_holiday"] == 1, HOLIDAY_LIFT, 1.0)
    eve = np.where(cal["days_to_holiday"].between(1, 2) & (cal["is_holiday"] == 0), EVE_LIFT, 1)
    base = WEEKDAY[ds.day_of_week] * holiday * eve
    frames = []
    for i in range(n_series):
        level = float(np.exp(rng.normal(2.3, 0.7)))
        hot = i % 2 == 0
        heat = 1 + HEAT_SLOPE * np.maximum(tmax - 30, 0) if hot else np.ones(days)
        promo = rng.random(days) < 0.08
        mean = level * base * heat * np.where(promo, PROMO_LIFT, 1.0)
        demand = rng.poisson(mean).astype(float)
        censored = np.zeros(days, dtype=bool)
        if stock_cap:
            capped = rng.random(days) < stock_cap
            cap = np.floor(0.6 * mean)
            censored = capped & (demand > cap)
            demand = np.where(censored, cap, demand)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i:03d}",
                    "ds": ds,
                    "y": demand,
                    "censored": censored,
                    "tmax": tmax.round(1),
                    "promo": promo.astype(int),
                    "category": "fruit" if hot else "veg",
                    "mean": mean,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def split(df: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train frame, future exogenous frame and test frame (last ``h`` days)."""
    cut = df["ds"].max() - pd.Timedelta(days=h)
    train = df.loc[df["ds"] <= cut].drop(columns="mean")
    test = df.loc[df["ds"] > cut]
    future = test.drop(columns=["y", "censored", "mean"])
    return train, future, test
