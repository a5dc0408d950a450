"""Linli adapter for demand forecasting: daily SKU × warehouse (or × community) series.

Demand is units ordered per order date (cancelled orders excluded), summed over the
communities a forward warehouse serves. Exogenous columns, all known when buying:

- ``listed``: campaigns (communities listing the SKU) that day, i.e. the listing plan;
- ``discount``: mean 1 − price / list price over those campaigns (0 when not listed);
- ``threshold`` (with ``history(threshold=True)``): mean group threshold of those campaigns
  over the day's mean over all listings, over the series' usual ratio in the 28 days before
  (0 when not listed; never when listings are derived from orders);
- ``tmax``: the city's daily maximum temperature; for future days the weather forecast
  (rows of the ``weather`` table after ``as_of``) where loaded, else
  :func:`engine.forecasting.weather.outlook`;
- ``category``: the SKU's category (static);
- ``topic_trend``: mentions of the SKU's topic keyword over the previous 7 days relative to
  the previous 28 days, in the series' warehouse area (lagged, so known the day before).

:func:`split` (and :func:`planning_exog` on a frame that has it) adds ``category_factor``
(the offset of :data:`SETTINGS`: heat and festival-week multipliers by
:func:`category_response` on the training days) and ``heat`` (degrees above its base).

A day on which any of the SKU's campaigns in the area sold out is ``censored``: sales are a
lower bound of demand. Series run from the world's first day to ``as_of`` with zeros on
days without sales; SKUs never listed in an area have no series.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import availability, clock, forecasting
from engine.auth import ALL, Scope
from engine.forecasting import calendar, listings, weather

LEVELS = {"warehouse": "warehouse_id", "community": "community_id"}  # identifier whitelist
# Topic keyword -> SKUs it speaks about, by tag or by category.
TOPIC_MATCH = {
    "低糖水果": ("tag", "low_sugar"),
    "有机蔬菜": ("tag", "organic"),
    "健身轻食": ("tag", "fitness"),
    "宠物用品": ("tag", "pet"),
    "月饼": ("category", "烘焙糕点"),
    "防暑降温": ("category", "酒水饮料"),
    "宝宝辅食": ("category", "母婴"),
    "火锅": ("category", "肉禽蛋"),
    "年货": ("category", "休闲零食"),
    "粽子": ("category", "粮油调味"),
}
EXOG = ["listed", "discount", "threshold", "tmax", "category", "topic_trend"]
FACTOR = "category_factor"  # offset: each category's heat and festival-week multiplier
HEAT = "heat"  # degrees above the category response's base temperature, the trees' feature
HEAT_BASES = (24.0, 26.0, 28.0, 30.0, 32.0)  # candidate base temperatures (°C)
FESTIVAL_DAYS = 7  # days before a holiday block that count as its festival week
PLAN_EXOG = ["listed", "discount", "threshold"]  # known a day ahead: drop to forecast further

# Model settings for Linli's series (why and measurements: docs/forecasting.md): recency
# weights (60-day half-life), the panel's growth line over up to 52 weeks divided out and
# carried forward (trend), the category response as the offset; sold-out days left out of
# the targets, forecasts scaled by the calibration window's actual / forecast units (debias);
# the trees see HEAT, not tmax (with tmax they tied the cool months to the busier detrended
# winter, and the forecast climbed as the autumn cooled).
SETTINGS = forecasting.Settings(
    halflife=60.0, trend="global", trend_seasons=52, offset=FACTOR, censored="drop", debias=True
)
SETTINGS = replace(SETTINGS, exclude=("tmax",))


@dataclass(frozen=True)
class DemandData:
    """Series for the forecasting engine plus what they refer to.

    Attributes
    ----------
    frame
        ``unique_id, ds, y, censored`` and the exogenous columns :data:`EXOG`.
    keys
        One row per ``unique_id``: ``sku_id, <level>_id, name, category, storage,
        shelf_life_days, pack_size, supplier_id, region_id``.
    level
        ``"warehouse"`` or ``"community"``.
    derived
        What was derived rather than read: ``"listings_from_orders"`` when the campaigns
        table is empty and the listing columns come from order lines; ``"no_weather"`` when
        no weather is loaded and ``tmax`` is left out of the frame.
    """

    frame: pd.DataFrame
    keys: pd.DataFrame
    level: str
    derived: tuple[str, ...] = ()


def _level_column(level: str) -> str:
    """The id column of a level, or a ValueError."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
    return LEVELS[level]


def history(
    con: duckdb.DuckDBPyConnection,
    level: str = "warehouse",
    scope: Scope = ALL,
    threshold: bool = False,
) -> DemandData:
    """Daily demand series with exogenous columns from the world's first day to ``as_of``.

    Parameters
    ----------
    con
        An open Linli database.
    level
        ``"warehouse"`` (SKU × forward warehouse, the buying unit) or ``"community"``.
    scope
        The caller's row scope: only orders, campaigns and chat topics of communities inside
        it are read (a regional manager's warehouse series hold only their region's demand).
    threshold
        Add the ``threshold`` input (off by default: it double-counts effects the planner
        already priced in, e.g. heat; docs/forecasting.md, "Group threshold as an input").

    Returns
    -------
    DemandData
        Series, their keys and the level.

    Raises
    ------
    ValueError
        For an unknown level or a database without orders.
    """
    col = _level_column(level)
    as_of = clock.as_of(con)
    derived = bool(availability.missing(con, "forecast_listings"))
    first = con.execute(
        "SELECT min(order_date) FROM orders" if derived else "SELECT min(sale_date) FROM campaigns"
    ).fetchone()
    if first is None or first[0] is None:
        raise ValueError("the database has no orders")
    start = first[0]
    comms = scope.communities(con)
    # A serving database built from the lake holds the daily frame (engine.lake.build).
    served = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND table_name = ?",
        [listings.SERVED],
    ).fetchall()[0][0]
    source = listings.SERVED if served else f"({listings.DEMAND_DAILY_SQL})"
    sales = con.execute(listings.SALES.format(col=col, source=source), [comms, comms]).df()
    camp = con.execute(
        (listings.FROM_ORDERS if derived else listings.FROM_CAMPAIGNS).format(col=col),
        [comms, comms],
    ).df()
    dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(as_of), freq="D")
    pairs = camp[["area", "sku_id"]].drop_duplicates().sort_values(["area", "sku_id"])
    grid = pairs.merge(pd.DataFrame({"ds": dates}), how="cross")
    for f in (sales, camp):
        f["ds"] = pd.to_datetime(f["ds"])
    df = grid.merge(camp, on=["ds", "area", "sku_id"], how="left")
    df = df.merge(sales, on=["ds", "area", "sku_id"], how="left")
    df["y"] = df["y"].fillna(0.0)
    df["listed"] = df["listed"].fillna(0.0)
    df["discount"] = df["discount"].fillna(0.0)
    # Over the day's mean (a policy change cutting every threshold is no change in demand),
    # then over the series' usual in the 28 days before: how high the planner set it today.
    if threshold and not derived:
        thr = df["threshold"].astype(float)
        day = thr.where(df["listed"] > 0).groupby(df["ds"]).transform("mean")
        rel = (thr / day).where(df["listed"] > 0)
        df = df.sort_values(["area", "sku_id", "ds"])
        by_series = rel.loc[df.index].groupby([df["area"], df["sku_id"]])
        usual = by_series.transform(lambda r: r.shift(1).rolling(28, min_periods=1).mean())
        df["threshold"] = (rel / usual.reindex(rel.index).fillna(rel)).fillna(0.0)
    df["censored"] = df["censored"].fillna(False).astype(bool)
    keys = _keys(con, pairs, col)
    df = df.merge(keys[["unique_id", "area", "sku_id", "category"]], on=["area", "sku_id"])
    df = df.merge(_weather(con), on="ds", how="left")
    df = df.merge(_topic_trend(con, col, keys, comms), on=["ds", "area", "sku_id"], how="left")
    df["topic_trend"] = df["topic_trend"].fillna(1.0)
    notes: tuple[str, ...] = ("listings_from_orders",) if derived else ()
    exog = list(EXOG)
    if derived or not threshold:  # not in orders (no constant stand-in), or not asked for
        exog.remove("threshold")
    if df["tmax"].isna().all():  # no weather loaded: no heat effect rather than NaN features
        exog.remove("tmax")
        notes += ("no_weather",)
    frame = df[["unique_id", "ds", "y", "censored", *exog]].sort_values(["unique_id", "ds"])
    return DemandData(frame.reset_index(drop=True), keys.drop(columns="area"), level, notes)


def _keys(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame, col: str) -> pd.DataFrame:
    """One row per series with SKU attributes and the area's region."""
    skus = con.execute(
        "SELECT sku_id, name, category, storage, shelf_life_days, pack_size, supplier_id, "
        "unit_cost, tags FROM skus"
    ).df()
    if col == "warehouse_id":
        areas = con.execute("SELECT warehouse_id AS area, region_id FROM warehouses").df()
    else:
        areas = con.execute(
            "SELECT community_id AS area, region_id, warehouse_id FROM communities"
        ).df()
    keys = pairs.merge(skus, on="sku_id").merge(areas, on="area")
    keys.insert(0, "unique_id", keys["sku_id"].astype(str) + "@" + keys["area"].astype(str))
    keys[col] = keys["area"]
    return keys


def _weather(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Daily maximum temperature of the platform's city."""
    w = con.execute("SELECT weather_date AS ds, avg(tmax_c) AS tmax FROM weather GROUP BY 1").df()
    w["ds"] = pd.to_datetime(w["ds"])
    return w


def _topic_trend(
    con: duckdb.DuckDBPyConnection, col: str, keys: pd.DataFrame, comms: list[int] | None = None
) -> pd.DataFrame:
    """Per area, SKU and day: 7-day over 28-day mean mentions of the SKU's keyword (lagged)."""
    t = con.execute(
        f"""
        SELECT t.topic_date AS ds, c.{col} AS area, t.keyword, sum(t.mentions)::DOUBLE AS m
        FROM topics t JOIN communities c ON c.community_id = t.community_id
        WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], c.community_id))
        GROUP BY ALL
        """,
        [comms, comms],
    ).df()
    if t.empty:
        return pd.DataFrame(columns=["ds", "area", "sku_id", "topic_trend"])
    t["ds"] = pd.to_datetime(t["ds"])
    wide = t.pivot_table(index=["area", "ds"], columns="keyword", values="m", fill_value=0.0)
    out = []
    for area, g in wide.groupby(level="area"):
        g = g.droplevel("area").asfreq("D", fill_value=0.0)
        # Shift by one day: the trend of day d uses mentions up to d - 1.
        short = g.rolling(7, min_periods=1).mean().shift(1)
        long = g.rolling(28, min_periods=1).mean().shift(1)
        ratio = ((short + 1) / (long + 1)).stack().rename("topic_trend").reset_index()
        ratio["area"] = area
        out.append(ratio)
    trend = pd.concat(out, ignore_index=True)
    match = []
    for kw, (kind, value) in TOPIC_MATCH.items():
        if kind == "tag":
            hit = keys["tags"].map(lambda tags, v=value: v in list(tags))
        else:
            hit = keys["category"] == value
        m = keys.loc[hit, ["area", "sku_id"]].assign(keyword=kw)
        match.append(m)
    links = pd.concat(match, ignore_index=True).drop_duplicates(["area", "sku_id"])
    return links.merge(trend, on=["area", "keyword"])[["ds", "area", "sku_id", "topic_trend"]]


def holidays(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The database's calendar table as a forecasting holiday frame, merged with the default.

    Parameters
    ----------
    con
        An open Linli database.

    Returns
    -------
    pandas.DataFrame
        ``date, kind, holiday``; ``attrs["covers"]`` is the span both calendars cover.
    """
    cal = con.execute("SELECT cal_date, is_holiday, is_workday, holiday FROM calendar").df()
    default = calendar.load_holidays()
    if cal.empty:
        return default
    own = calendar.from_linli_calendar(cal)
    lo, hi = pd.to_datetime(cal["cal_date"]).min(), pd.to_datetime(cal["cal_date"]).max()
    outside = default.loc[(default["date"] < lo) | (default["date"] > hi)]
    out = pd.concat([own, outside], ignore_index=True).sort_values("date", ignore_index=True)
    # The table lists every day it covers, so together they cover both spans when these meet.
    c0, c1 = default.attrs["covers"]
    a, b = lo.date(), hi.date()
    meet = a <= c1 + timedelta(days=1) and b >= c0 - timedelta(days=1)
    out.attrs["covers"] = (min(a, c0), max(b, c1)) if meet else (a, b)
    return out


def future_exog(data: DemandData, h: int, lookback: int = 28) -> pd.DataFrame:
    """Planning assumptions for the ``h`` days after ``as_of`` (see :func:`planning_exog`)."""
    return planning_exog(data.frame, h, lookback)


def planning_exog(
    frame: pd.DataFrame,
    h: int,
    lookback: int = 28,
    weather_forecast: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assumed exogenous values for the ``h`` days after the frame's last day.

    Listings and discounts repeat each series' average over the last
    ``lookback`` days, the topic trend its last value. Temperature is the weather forecast
    where ``weather_forecast`` has the day, else :func:`weather.outlook` (the usual weather of the
    date plus today's departure from it, fading: :func:`weather.outlook`).
    Pass this function as ``calibration_exog`` to ``forecasting.fit`` so intervals include
    the error of these assumptions.

    Parameters
    ----------
    frame
        Series as from :func:`history` (``DemandData.frame``).
    h
        Days to cover.
    lookback
        Days of history averaged.
    weather_forecast
        Optional weather forecast ``ds, tmax`` (e.g. :func:`weather.ahead`).

    Returns
    -------
    pandas.DataFrame
        ``unique_id, ds`` and :data:`EXOG` for each future day (with :data:`FACTOR` and
        :data:`HEAT` when ``frame`` has :data:`FACTOR`).
    """
    f = frame
    last = f["ds"].max()
    recent = f.loc[f["ds"] > last - pd.Timedelta(days=lookback)]
    g = recent.groupby("unique_id")
    how = {
        "listed": "mean",
        "discount": "mean",
        "threshold": "mean",
        "category": "first",
        "topic_trend": "last",
    }
    cols = [c for c in EXOG if c in f.columns]
    plan = g.agg({c: how[c] for c in cols if c in how}).reset_index()
    days = pd.DataFrame({"ds": pd.date_range(last + pd.Timedelta(days=1), periods=h)})
    out = plan.merge(days, how="cross")
    if "tmax" in cols:
        temp = f.groupby("ds")["tmax"].mean()
        ahead = weather.outlook(temp, h)
        wf = weather_forecast
        if wf is not None and len(wf):
            given = wf.assign(ds=pd.to_datetime(wf["ds"])).set_index("ds")["tmax"]
            ahead = given.reindex(ahead.index).fillna(ahead)
        out["tmax"] = out["ds"].map(ahead).to_numpy()
    if FACTOR in f.columns:
        out = category_response(f).apply(out)
        cols = [*cols, FACTOR, HEAT]
    return out[["unique_id", "ds", *cols]].sort_values(["unique_id", "ds"], ignore_index=True)


def choose_objective(
    frame: pd.DataFrame,
    keys: pd.DataFrame,
    h: int,
    settings: forecasting.Settings,
    holidays: pd.DataFrame | None = None,
    seed: int = 0,
) -> tuple[str, pd.DataFrame]:
    """Pick the booster's loss for forecasts without the listing plan on an earlier window.

    Without the plan a series' future is a mix of listed and unlisted days the model cannot
    tell apart: a mean forecast (squared loss) overshoots the zero days, a median forecast
    (absolute loss) wins at the series level where most days are listed but sums to totals
    far too low where listings are sparse. Each loss is backtested (light settings) on the
    ``h`` days before the last ``h`` (which stay unseen, for the caller's hold-out) under
    the same planning assumptions (:func:`planning_exog`); the one whose worse WAPE ratio to
    ETS, over series and over category totals, is smaller wins.

    Parameters
    ----------
    frame
        Series without :data:`PLAN_EXOG` (with :data:`FACTOR` when ``settings.offset`` is set).
    keys
        ``unique_id, category``.
    h
        Horizon (days).
    settings
        The settings to be used; ``objective`` is varied, trees and rows are reduced.
    holidays, seed
        As for ``forecasting.fit``.

    Returns
    -------
    tuple
        The objective and a table ``objective, wape, wape_total, ets_wape, ets_wape_total,
        score`` (score: the worse of the two ratios to ETS).
    """
    last = frame["ds"].max()
    early = frame.loc[frame["ds"] <= last - pd.Timedelta(days=h)]
    cut = early["ds"].max() - pd.Timedelta(days=h)
    actual = early.loc[early["ds"] > cut, ["unique_id", "ds", "y", "censored"]]
    cat = keys[["unique_id", "category"]]

    def wapes(fc: pd.DataFrame) -> tuple[float, float]:
        d = fc[["unique_id", "ds", "yhat"]].merge(actual, on=["unique_id", "ds"])
        ok = d.loc[~d["censored"]]
        leaf = float((ok["y"] - ok["yhat"]).abs().sum() / ok["y"].sum())
        up = forecasting.rollup(d.drop(columns="censored"), cat, ["category"])
        total = float((up["y"] - up["yhat"]).abs().sum() / up["y"].sum())
        return leaf, total

    base = forecasting.baseline_forecasts(early.loc[early["ds"] <= cut], h)
    ets = wapes(base.loc[base["model"] == "ets"])
    light = replace(
        settings,
        n_estimators=min(settings.n_estimators, 100),
        max_train_rows=min(settings.max_train_rows, 60_000),
    )
    rows = []
    for objective in ("squared", "absolute"):
        m = forecasting.fit(
            early,
            h,
            future_exog=planning_exog(early, h),
            seed=seed,
            holidays=holidays,
            settings=replace(light, objective=objective),
            calibration_exog=planning_exog,
        )
        leaf, total = wapes(forecasting.holdout(m))
        score = max(leaf / ets[0], total / ets[1])
        rows.append((objective, leaf, total, ets[0], ets[1], score))
    cols = ["objective", "wape", "wape_total", "ets_wape", "ets_wape_total", "score"]
    table = pd.DataFrame(rows, columns=cols)
    return str(table.loc[table["score"].idxmin(), "objective"]), table


def split(data: DemandData, h: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train frame, future exogenous frame (the actual plan) and held-out last ``h`` days.

    All three carry the :data:`FACTOR` multiplier, estimated on the training days only.
    """
    f = data.frame
    cut = f["ds"].max() - pd.Timedelta(days=h)
    train, test = f.loc[f["ds"] <= cut], f.loc[f["ds"] > cut]
    resp = category_response(train)
    train, test = resp.apply(train), resp.apply(test)
    cols = [c for c in EXOG if c in f.columns]
    return train, test[["unique_id", "ds", *cols, FACTOR, HEAT]], test


@dataclass(frozen=True)
class CategoryResponse:
    """Per-category demand response to hot days and festival weeks, from category-day totals.

    ``factor = exp(heat[c] * max(tmax - base, 0) + festival[name][c] * pre)`` with ``pre`` = 1
    on the :data:`FESTIVAL_DAYS` days before the first day of a holiday block called ``name``:
    the multiplier of category ``c``'s demand relative to the other categories.
    """

    base: float
    heat: dict[str, float]
    festival: dict[str, dict[str, float]]
    holidays: pd.DataFrame

    def factors(self, frame: pd.DataFrame) -> np.ndarray:
        """The multiplier of each row of a frame with ``ds``, ``category`` and ``tmax``."""
        if not {"ds", "category", "tmax"} <= set(frame.columns):
            return np.ones(len(frame))
        cat = frame["category"]
        b = cat.map(self.heat).fillna(0.0).to_numpy(dtype=float)
        hot = np.clip(frame["tmax"].to_numpy(dtype=float) - self.base, 0.0, None)
        log_f = b * np.nan_to_num(hot)
        eve = festival_eve(pd.DatetimeIndex(frame["ds"]), self.holidays)
        for name, coef in self.festival.items():
            log_f = log_f + (eve == name) * cat.map(coef).fillna(0.0).to_numpy(dtype=float)
        return np.exp(log_f)

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with :data:`FACTOR` and :data:`HEAT` = max(tmax − base, 0) (0 without tmax)."""
        hot = np.zeros(len(frame))
        if "tmax" in frame.columns:  # a missing temperature stays missing for the trees
            hot = np.clip(frame["tmax"].to_numpy(dtype=float) - self.base, 0.0, None)
        return frame.assign(**{FACTOR: self.factors(frame), HEAT: hot})


def festival_eve(days: pd.DatetimeIndex, holidays: pd.DataFrame) -> np.ndarray:
    """Name of the holiday block starting within :data:`FESTIVAL_DAYS` days after each day."""
    hol = holidays.loc[holidays["kind"] == "holiday"].sort_values("date")
    d = pd.DatetimeIndex(hol["date"])
    first = np.r_[True, np.diff(d.to_numpy()).astype("timedelta64[D]").astype(int) > 1]
    starts = d[first]
    names = hol["holiday"].astype(str).to_numpy()[first]
    out = np.full(len(days), "", dtype=object)
    x = days.normalize().to_numpy()
    k = np.searchsorted(starts.to_numpy(), x, side="right")
    ok = k < len(starts)
    gap = np.full(len(days), 10**6)
    gap[ok] = (starts.to_numpy()[k[ok]] - x[ok]).astype("timedelta64[D]").astype(int)
    hit = ok & (gap >= 1) & (gap <= FESTIVAL_DAYS)
    out[hit] = names[k[hit]]
    return out


def category_response(
    frame: pd.DataFrame, holidays: pd.DataFrame | None = None
) -> CategoryResponse:
    """Estimate how each category's share of demand moves on hot days and before festivals.

    A tree model fitted on 90 days of SKU × warehouse series cannot tell a few per cent per
    degree from Poisson noise and the season's drift, nor learn a festival week from the few
    days of it in its history (measured on small worlds: its forecasts ignored the planted
    heat lift). Category-day totals show both: per category and day, the log of units per
    expected unit (listings times the series' own units per listing) minus that day's
    volume-weighted mean over categories (which removes growth,
    weekday and everything common to all categories) is regressed on the degrees above a base
    temperature and on one indicator per festival week seen in the history (the
    :data:`FESTIVAL_DAYS` days before a holiday block, by holiday name, if at least three of
    them are in the history). The base is the one
    of :data:`HEAT_BASES` with the smallest residual error. Each coefficient is shrunk towards
    zero by ``max(0, 1 - 1 / t^2)`` (t its t-statistic; the empirical-Bayes factor
    ``(b^2 - se^2) / b^2``), so an effect within its own noise counts for nothing.

    Parameters
    ----------
    frame
        Training series with ``ds, y, category, tmax`` and optionally ``listed``.
    holidays
        Holiday calendar (``date, kind, holiday``); ``None`` reads the shipped one.

    Returns
    -------
    CategoryResponse
        Base temperature and coefficients (empty when they cannot be estimated).
    """
    hol = calendar.load_holidays() if holidays is None else calendar.check_holidays(holidays)
    if not {"category", "tmax"} <= set(frame.columns):
        return CategoryResponse(HEAT_BASES[0], {}, {}, hol)
    per = frame.assign(listed=frame["listed"] if "listed" in frame.columns else 1.0)
    # Expected units of each series and day: its listings times its own units per listing,
    # so a change in the mix of listed SKUs (mooncakes flooding 烘焙糕点) is not an effect.
    by_id = per.groupby("unique_id")[["y", "listed"]].sum()
    rate = (by_id["y"] / by_id["listed"].where(by_id["listed"] > 0)).fillna(0.0)
    per["e"] = per["listed"] * per["unique_id"].map(rate).to_numpy()
    g = per.groupby(["category", "ds"]).agg(y=("y", "sum"), n=("e", "sum")).reset_index()
    g = g.loc[g["n"] > 0].reset_index(drop=True)
    g["r"] = np.log((g["y"] + 0.5) / (g["n"] + 0.5))
    w = g.groupby("category")["y"].transform("sum")
    g["r"] -= (g["r"] * w).groupby(g["ds"]).transform("sum") / w.groupby(g["ds"]).transform("sum")
    temp = frame.groupby("ds")["tmax"].mean()
    g["tmax"] = g["ds"].map(temp).to_numpy()
    eve = festival_eve(pd.DatetimeIndex(g["ds"]), hol)
    seen = pd.Series(eve[eve != ""]).value_counts()
    fests = [str(n) for n in seen.index if g.loc[eve == n, "ds"].nunique() >= 3]
    dummies = np.column_stack([eve == n for n in fests]).astype(float) if fests else None
    best: tuple[float, float, dict[str, float], dict[str, dict[str, float]]] | None = None
    for base in HEAT_BASES:
        x = np.clip(g["tmax"].to_numpy() - base, 0.0, None)
        if np.count_nonzero(x) < 10:
            x = np.zeros(len(g))  # no hot days: festival weeks only
        cols = [np.ones(len(g)), x] + ([dummies] if dummies is not None else [])
        a_all = np.column_stack(cols)
        sse, heat = 0.0, {}
        fest: dict[str, dict[str, float]] = {n: {} for n in fests}
        for cat, idx in g.groupby("category").indices.items():
            a, r = a_all[idx], g["r"].to_numpy()[idx]
            use = np.flatnonzero(a.any(axis=0))
            a = a[:, use]
            if len(idx) < 10 or np.linalg.matrix_rank(a) < len(use):
                continue
            coef, *_ = np.linalg.lstsq(a, r, rcond=None)
            res = r - a @ coef
            sse += float(res @ res)
            cov = np.linalg.inv(a.T @ a) * float(res @ res) / max(len(idx) - len(use), 1)
            t2 = coef**2 / np.maximum(np.diag(cov), 1e-12)
            shrunk = coef * np.maximum(0.0, 1 - 1 / np.maximum(t2, 1e-12))
            for j, u in enumerate(use):
                if u == 1:
                    heat[str(cat)] = float(shrunk[j])
                elif u >= 2:
                    fest[fests[u - 2]][str(cat)] = float(shrunk[j])
        if best is None or sse < best[0]:
            best = (sse, base, heat, fest)
        if not x.any():
            break
    if best is None:
        return CategoryResponse(HEAT_BASES[0], {}, {}, hol)
    return CategoryResponse(best[1], best[2], best[3], hol)


def drop_empty(data: DemandData, min_units: float = 1.0) -> DemandData:
    """Drop series with fewer than ``min_units`` units sold in total (nothing to learn)."""
    tot = data.frame.groupby("unique_id")["y"].sum()
    keep = tot.index[tot >= min_units]
    return DemandData(
        data.frame.loc[data.frame["unique_id"].isin(keep)].reset_index(drop=True),
        data.keys.loc[data.keys["unique_id"].isin(keep)].reset_index(drop=True),
        data.level,
    )


def series_ids(data: DemandData) -> np.ndarray:
    """The unique ids in key order."""
    return data.keys["unique_id"].to_numpy()
