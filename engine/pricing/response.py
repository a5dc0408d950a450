"""Demand response of a campaign and its group-success probability (成团率).

For SKU ``s`` in community ``c`` at effective price ``p``::

    pi(p)  = 1 - exp(-exp(eta0[c, s] + b_s * log(p / list_s)))   # share of orders with s
    mu(p)  = orders[c] * weekday * qty[c] * pi(p)                  # expected units

``eta0`` is the community's recent level plus the SKU and community × category effects of the
elasticity fit; ``orders[c]`` its recent daily orders and ``qty[c]`` its mean units per line.
Units are negative binomial with mean ``mu`` and ``Var = mu + alpha * mu²``. A level
correction, ``alpha`` and a logistic recalibration of ``P(units >= k)`` (成团率) are fitted on
the last days of the window, predicted from the days before them, so they include the error of
predicting a future day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from engine import availability
from engine.auth import ALL, EmptyScope, Scope, ScopeError
from engine.pricing import data, elasticity, evidence

HALF_LIFE = 7.0  # days, for the recent level of a community


@dataclass(frozen=True)
class DemandModel:
    """Everything needed to predict any SKU × community campaign, as dense arrays."""

    start: date  # first training day
    end: date  # last training day; predictions are for the days after it
    sku_ids: np.ndarray  # [S]
    community_ids: np.ndarray  # [C]
    region_ids: np.ndarray  # [C] region of each community (row scope)
    warehouse_ids: np.ndarray  # [C] serving warehouse of each community (row scope)
    category: np.ndarray  # [S]
    list_price: np.ndarray  # [S]
    unit_cost: np.ndarray  # [S]
    elasticity: np.ndarray  # [S] per-SKU (shrunk) price exponent
    eta0: np.ndarray  # [C, S] log-rate at list price
    orders: np.ndarray  # [C] recent mean daily orders
    weekday: np.ndarray  # [7] order factor, Monday first
    qty: np.ndarray  # [C] units per order line
    commission: np.ndarray  # [C] leader commission rate on net GMV
    current_price: np.ndarray  # [C, S] last campaign price (list price if never sold)
    current_threshold: np.ndarray  # [C, S]
    dispersion: float  # NB alpha
    scale: float  # level correction from out-of-sample campaigns
    calibration: tuple[float, float]  # Platt (intercept, slope) on logit P(success)
    categories: pd.DataFrame = field(repr=False)  # category elasticities with intervals
    skus: pd.DataFrame = field(repr=False)  # per-SKU elasticities
    # Observed price range per SKU (fractions of list; engine.pricing.evidence), None = unknown.
    prices: evidence.PriceRange | None = field(default=None, repr=False)

    def sku_index(self, sku_ids) -> np.ndarray:
        """Positions of ``sku_ids``; raises ``ValueError`` naming any unknown SKU."""
        ids = np.atleast_1d(np.asarray(sku_ids, dtype=np.int64))
        pos = np.searchsorted(self.sku_ids, ids)
        pos = np.clip(pos, 0, len(self.sku_ids) - 1)
        bad = self.sku_ids[pos] != ids
        if bad.any():
            raise ValueError(f"unknown SKU id(s): {', '.join(map(str, ids[bad][:5]))}")
        return pos

    def community_index(self, community_ids=None, scope: Scope = ALL) -> np.ndarray:
        """Positions of ``community_ids`` (all when ``None``) inside the row ``scope``.

        Unknown ids raise ``ValueError``; ids all outside ``scope`` raise ``ScopeError``,
        and those partly outside are dropped; a scope that holds none of the model's
        communities raises ``EmptyScope``.
        """
        if community_ids is None:
            pos = np.arange(len(self.community_ids))
        else:
            ids = np.atleast_1d(np.asarray(community_ids, dtype=np.int64))
            pos = np.clip(np.searchsorted(self.community_ids, ids), 0, len(self.community_ids) - 1)
            bad = self.community_ids[pos] != ids
            if bad.any():
                raise ValueError(f"unknown community id(s): {', '.join(map(str, ids[bad][:5]))}")
        if scope.restricted:
            ok = scope.mask(self.region_ids[pos], self.warehouse_ids[pos])
            if community_ids is not None and len(pos) and not ok.any():
                raise ScopeError("the requested communities are outside your scope")
            if community_ids is None and not ok.any():
                raise EmptyScope(f"your scope {scope.describe()} matches no community")
            pos = pos[ok]
        return pos


def _recent(df: pd.DataFrame, value: str, end: date) -> pd.Series:
    """Exponentially weighted mean per community, half-life :data:`HALF_LIFE` days.

    Communities that opened recently are still growing, so a plain mean over weeks
    under-predicts them (measured: 0.8 vs 9 orders a day for one such community).
    """
    age = (pd.Timestamp(end) - pd.to_datetime(df["day"])).dt.days.to_numpy()
    w = 0.5 ** (age / HALF_LIFE)
    num = pd.Series(w * df[value].to_numpy()).groupby(df["community_id"].to_numpy()).sum()
    den = pd.Series(w).groupby(df["community_id"].to_numpy()).sum()
    return num / den


def _level(frame: pd.DataFrame, cat: elasticity.CategoryFit, end: date):
    """Per-community recent level of the community × day effect, orders, qty and weekday."""
    f = cat.frame[cat.fit.keep]
    cd_fe = cat.fit.fe[0]
    per_cd = f.groupby("cd").agg(community_id=("community_id", "first"), day=("sale_date", "first"))
    per_cd["a"] = cd_fe[per_cd.index.to_numpy()]
    level = _recent(per_cd, "a", end)
    traffic = frame.groupby(["community_id", "sale_date"])["n_orders"].first().reset_index()
    traffic["day"] = traffic["sale_date"]
    traffic["wd"] = pd.to_datetime(traffic["sale_date"]).dt.day_of_week
    rel = traffic["n_orders"] / traffic.groupby("community_id")["n_orders"].transform("mean")
    weekday = rel.groupby(traffic["wd"]).mean().reindex(range(7)).fillna(1.0).to_numpy()
    weekday = weekday / weekday.mean()
    orders = _recent(traffic, "n_orders", end)
    ok = frame[~frame["sold_out"].astype(bool)]
    qty = ok.groupby("community_id")["units"].sum() / ok.groupby("community_id")["lines"].sum()
    return level, orders, qty, weekday


SHRINK = 5.0  # prior weight of an effect, in order lines (Poisson-gamma shrinkage)


def _shrunk_effects(
    cat: elasticity.CategoryFit, skus: pd.DataFrame, comms: pd.DataFrame, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """SKU and community × category effects shrunk towards their category / type means.

    A fixed effect fitted on a handful of lines (or dropped for having none) predicts a future
    campaign badly: a SKU sold once looks ten times rarer than it is. Each effect becomes
    ``prior + log((lines + k) / (expected lines at the prior + k))``, the Poisson-gamma
    posterior mean with ``k = SHRINK`` lines of prior weight.

    Returns
    -------
    tuple of numpy.ndarray
        SKU effects [S] and community × category effects laid out per SKU [C, S].
    """
    f = cat.frame
    fe_cd, fe_sk, fe_cc = cat.fit.fe
    s_ids = skus["sku_id"].to_numpy(np.int64)
    c_ids = comms["community_id"].to_numpy(np.int64)
    cats = sorted(skus["category"].unique())
    cat_of = {c: i for i, c in enumerate(cats)}
    sku_cat = skus["category"].map(cat_of).to_numpy()
    raw_sku = pd.Series(fe_sk[f["sk"].to_numpy()], index=f["sku_id"].to_numpy())
    a_raw = skus["sku_id"].map(raw_sku.groupby(level=0).first())
    prior_sku = a_raw.groupby(skus["category"]).transform("mean").fillna(a_raw.mean())
    prior_sku = prior_sku.fillna(0.0).to_numpy()

    ci = np.searchsorted(c_ids, f["community_id"].to_numpy())
    si = np.searchsorted(s_ids, f["sku_id"].to_numpy())
    ki = sku_cat[si]
    cc_raw = np.full((len(c_ids), len(cats)), np.nan)
    cc_raw[ci, ki] = fe_cc[f["cc"].to_numpy()]
    types = comms["type"].to_numpy()
    cc_prior = np.zeros_like(cc_raw)
    overall = np.nanmean(cc_raw, axis=0) if np.isfinite(cc_raw).any() else np.zeros(len(cats))
    overall = np.nan_to_num(overall)
    for t in np.unique(types):
        rows = types == t
        block = cc_raw[rows]
        with np.errstate(all="ignore"):
            mean = np.where(np.isfinite(block).any(axis=0), np.nanmean(block, axis=0), overall)
        cc_prior[rows] = np.nan_to_num(mean)
    cc_fill = np.where(np.isfinite(cc_raw), cc_raw, cc_prior)

    a_cd = fe_cd[f["cd"].to_numpy()]
    ok = np.isfinite(a_cd)
    n = f["n_orders"].to_numpy(float)[ok]
    y = f["lines"].to_numpy(float)[ok]
    slope = b[si[ok]] * f["x"].to_numpy()[ok]
    ci, si, ki, a_cd = ci[ok], si[ok], ki[ok], a_cd[ok]

    def expected(eta: np.ndarray) -> np.ndarray:
        return n * -np.expm1(-np.exp(np.clip(eta, -40, 6)))

    e_s = np.bincount(
        si, weights=expected(a_cd + prior_sku[si] + cc_fill[ci, ki] + slope), minlength=len(s_ids)
    )
    y_s = np.bincount(si, weights=y, minlength=len(s_ids))
    a_sku = prior_sku + np.log((y_s + SHRINK) / (e_s + SHRINK))
    flat = ci * len(cats) + ki
    e_c = np.bincount(
        flat, weights=expected(a_cd + a_sku[si] + cc_prior[ci, ki] + slope), minlength=cc_raw.size
    )
    y_c = np.bincount(flat, weights=y, minlength=cc_raw.size)
    cc = cc_prior + np.log((y_c + SHRINK) / (e_c + SHRINK)).reshape(cc_raw.shape)
    return a_sku, cc[:, sku_cat]


def _build(con, frame: pd.DataFrame, end: date, level: float) -> dict:
    """Fit elasticities and levels on ``frame`` and lay them out as dense arrays."""
    cat = elasticity.by_category(frame, level)
    per_sku = elasticity.by_sku(cat, level=level)
    cat_lv, orders, qty, weekday = _level(frame, cat, end)
    skus = data.catalogue(con)
    comms = data.communities(con)
    s_ids = skus["sku_id"].to_numpy(np.int64)
    c_ids = comms["community_id"].to_numpy(np.int64)
    cat_b = dict(zip(cat.table["category"], cat.table["elasticity"], strict=True))
    b_cat = skus["category"].map(cat_b).astype(float)
    b_sku = skus["sku_id"].map(per_sku.set_index("sku_id")["elasticity"])
    b = b_sku.fillna(b_cat).fillna(float(np.nanmean(cat.table["elasticity"]))).to_numpy()

    a_sku, cc_mat = _shrunk_effects(cat, skus, comms, b)
    lv = pd.Series(c_ids).map(cat_lv).fillna(cat_lv.mean() if len(cat_lv) else 0.0).to_numpy()
    eta0 = lv[:, None] + a_sku[None, :] + cc_mat

    last = frame.sort_values("sale_date").groupby(["community_id", "sku_id"]).last()
    cur_p = np.tile(skus["list_price"].to_numpy(float), (len(c_ids), 1))
    ci = np.searchsorted(c_ids, last.index.get_level_values(0).to_numpy())
    si = np.searchsorted(s_ids, last.index.get_level_values(1).to_numpy())
    cur_p[ci, si] = last["price"].to_numpy()
    return {
        "cat": cat,
        "per_sku": per_sku,
        "sku_ids": s_ids,
        "community_ids": c_ids,
        "region_ids": comms["region_id"].to_numpy(np.int64),
        "warehouse_ids": comms["warehouse_id"].to_numpy(np.int64),
        "category": skus["category"].to_numpy(),
        "list_price": skus["list_price"].to_numpy(float),
        "unit_cost": skus["unit_cost"].to_numpy(float),
        "b": b,
        "eta0": eta0,
        "orders": pd.Series(c_ids).map(orders).fillna(0.0).to_numpy(),
        "weekday": weekday,
        "qty": pd.Series(c_ids).map(qty).fillna(qty.mean() if len(qty) else 1.0).to_numpy(),
        "commission": comms["commission_rate"].to_numpy(float),
        "cur_p": cur_p,
        "last": (ci, si, last["threshold"].to_numpy()),
    }


def _mean(arr: dict, ci, si, price, wd=None) -> np.ndarray:
    """Expected units of SKU positions ``si`` in community positions ``ci`` at ``price``."""
    x = np.log(price / arr["list_price"][si])
    pi = -np.expm1(-np.exp(np.clip(arr["eta0"][ci, si] + arr["b"][si] * x, -40, 6)))
    day = 1.0 if wd is None else arr["weekday"][wd]
    return arr.get("scale", 1.0) * arr["orders"][ci] * day * arr["qty"][ci] * pi


def nb_sf(k, mu, alpha: float) -> np.ndarray:
    """``P(U >= k)`` for a negative binomial with mean ``mu`` and ``Var = mu + alpha mu²``."""
    k = np.asarray(k, dtype=float)
    mu = np.maximum(np.asarray(mu, dtype=float), 1e-12)
    r = 1.0 / max(alpha, 1e-6)
    return stats.nbinom.sf(k - 1, r, r / (r + mu))


def nb_partial(k, mu, alpha: float) -> np.ndarray:
    """``E[U · 1{U >= k}]``: units sold when groups below ``k`` are refunded."""
    k = np.asarray(k, dtype=float)
    mu = np.maximum(np.asarray(mu, dtype=float), 1e-12)
    r = 1.0 / max(alpha, 1e-6)
    # u · NB(u; r, q) = mu · NB(u - 1; r + 1, q)
    return mu * stats.nbinom.sf(k - 2, r + 1, r / (r + mu))


def _calibrate(mu, units, sold_out, threshold, limit, success) -> tuple[float, float, tuple]:
    """Level, dispersion and success recalibration from campaigns predicted out of sample.

    The level is ``sum(units) / sum(mu)`` and the dispersion the moment estimate
    ``sum((y - mu)² - mu) / sum(mu²)``, both over campaigns that did not sell out. The
    negative binomial alone is too sharp for a future day (the level of demand is itself
    uncertain), so ``P(success)`` is recalibrated by logistic regression of the outcomes on
    ``logit P`` (Platt scaling).
    """
    fresh = ~sold_out
    scale = float(units[fresh].sum() / max(mu[fresh].sum(), 1e-9)) if fresh.any() else 1.0
    m = mu * scale
    y = units[fresh]
    alpha = float(max(1e-3, ((y - m[fresh]) ** 2 - y).sum() / max((m[fresh] ** 2).sum(), 1e-9)))
    z = special.logit(np.clip(raw_success(threshold, limit, m, alpha), 1e-6, 1 - 1e-6))
    out = success.astype(float)

    def loss(theta: np.ndarray) -> float:
        eta = theta[0] + theta[1] * z
        return float((np.logaddexp(0, eta) - out * eta).sum())

    theta = optimize.minimize(loss, np.array([0.0, 1.0]), method="Nelder-Mead").x
    return scale, alpha, (float(theta[0]), float(theta[1]))


def calibrated(model: DemandModel, raw: np.ndarray) -> np.ndarray:
    """Apply the model's recalibration to negative-binomial success probabilities.

    Parameters
    ----------
    model
        Fitted model.
    raw
        ``P(units >= k)`` from :func:`nb_sf`.

    Returns
    -------
    numpy.ndarray
        Calibrated probabilities (monotone in ``raw``).
    """
    a, b = model.calibration
    return special.expit(a + b * special.logit(np.clip(raw, 1e-9, 1 - 1e-9)))


def fit(
    con: duckdb.DuckDBPyConnection,
    end: date | None = None,
    days: int = 120,
    calibration_days: int = 7,
    level: float = 0.95,
) -> DemandModel:
    """Fit the demand model on the ``days`` before ``end`` (inclusive).

    Parameters
    ----------
    con
        Open Linli database.
    end
        Last training day (default: the world's as-of date).
    days
        Training window in days.
    calibration_days
        The last days of the window used to fit dispersion and recalibration, predicted from
        a fit on the days before them.
    level
        Confidence level of the elasticity intervals.

    Returns
    -------
    DemandModel
        The fitted model.

    Raises
    ------
    ValueError
        When the window is too short or holds no campaigns
        (:class:`engine.availability.MissingDataError` when the campaigns table is empty).
    """
    availability.require(con, "pricing")
    start, end = data.window(con, end, days)
    if not 1 <= calibration_days <= days - 7:
        raise ValueError("calibration_days must leave at least 7 training days")
    frame = data.campaigns(con, start, end)
    if frame.empty:
        raise ValueError(f"no campaigns between {start} and {end}")
    cut = end - timedelta(days=calibration_days)
    early = frame[pd.to_datetime(frame["sale_date"]) <= pd.Timestamp(cut)]
    late = frame[pd.to_datetime(frame["sale_date"]) > pd.Timestamp(cut)]
    pre = _build(con, early, cut, level)
    ci = np.searchsorted(pre["community_ids"], late["community_id"].to_numpy())
    si = np.searchsorted(pre["sku_ids"], late["sku_id"].to_numpy())
    wd = pd.to_datetime(late["sale_date"]).dt.day_of_week.to_numpy()
    mu = _mean(pre, ci, si, late["price"].to_numpy(), wd)
    scale, alpha, calib = _calibrate(
        mu,
        late["units"].to_numpy(float),
        late["sold_out"].to_numpy(bool),
        late["threshold"].to_numpy(),
        late["stock_limit"].to_numpy(),
        late["success"].to_numpy(bool),
    )

    arr = _build(con, frame, end, level)
    cur_t = np.maximum(1, np.round(_threshold_rule(frame, arr))).astype(np.int64)
    ci, si, thr = arr["last"]
    cur_t[ci, si] = thr
    return DemandModel(
        start=start,
        end=end,
        sku_ids=arr["sku_ids"],
        community_ids=arr["community_ids"],
        region_ids=arr["region_ids"],
        warehouse_ids=arr["warehouse_ids"],
        category=arr["category"],
        list_price=arr["list_price"],
        unit_cost=arr["unit_cost"],
        elasticity=arr["b"],
        eta0=arr["eta0"],
        orders=arr["orders"],
        weekday=arr["weekday"],
        qty=arr["qty"],
        commission=arr["commission"],
        current_price=arr["cur_p"],
        current_threshold=cur_t,
        dispersion=alpha,
        scale=scale,
        calibration=calib,
        categories=arr["cat"].table,
        skus=arr["per_sku"],
        prices=evidence.observed(frame, data.catalogue(con), evidence.reference_prices(con, end)),
    )


def _threshold_rule(frame: pd.DataFrame, arr: dict) -> np.ndarray:
    """Thresholds for never-sold pairs: the recent median of threshold / expected units."""
    recent = frame[pd.to_datetime(frame["sale_date"]) > frame["sale_date"].max() - timedelta(28)]
    ci = np.searchsorted(arr["community_ids"], recent["community_id"].to_numpy())
    si = np.searchsorted(arr["sku_ids"], recent["sku_id"].to_numpy())
    mu = _mean(arr, ci, si, recent["price"].to_numpy())
    ratio = float(np.median(recent["threshold"].to_numpy() / np.maximum(mu, 0.1)))
    c, s = arr["eta0"].shape
    all_mu = _mean(
        arr, np.repeat(np.arange(c), s), np.tile(np.arange(s), c), np.tile(arr["list_price"], c)
    )
    return (ratio * all_mu).reshape(c, s)


def raw_success(threshold, stock_limit, mu, alpha: float) -> np.ndarray:
    """``P(min(U, limit) >= k)`` before recalibration (a limit below ``k`` can never form)."""
    p = nb_sf(threshold, mu, alpha)
    lim = pd.to_numeric(pd.Series(np.asarray(stock_limit, dtype=object)), errors="coerce")
    lim = lim.to_numpy(float)
    return np.where(np.isfinite(lim) & (lim < np.asarray(threshold)), 0.0, p)


def expected_units(model: DemandModel, sku_ids, community_ids, price) -> np.ndarray:
    """Expected units ordered for each (SKU, community, effective price) triple.

    Parameters
    ----------
    model
        Fitted :class:`DemandModel`.
    sku_ids, community_ids, price
        Broadcastable arrays; ``price`` is the price the shopper pays (after coupons).

    Returns
    -------
    numpy.ndarray
        Expected units.

    Raises
    ------
    ValueError
        For unknown ids or a non-positive price.
    """
    price = np.asarray(price, dtype=float)
    if (price <= 0).any() or not np.isfinite(price).all():
        raise ValueError("prices must be positive")
    si = model.sku_index(sku_ids)
    ci = model.community_index(community_ids)
    si, ci, price = np.broadcast_arrays(si, ci, price)
    return _mean(_arrays(model), ci, si, price)


def _arrays(model: DemandModel) -> dict:
    return {
        "list_price": model.list_price,
        "eta0": model.eta0,
        "b": model.elasticity,
        "orders": model.orders,
        "weekday": model.weekday,
        "qty": model.qty,
        "scale": model.scale,
    }


def predict_campaigns(model: DemandModel, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Expected units and calibrated success probability for given campaigns.

    Parameters
    ----------
    model
        Fitted model.
    campaigns
        ``community_id, sku_id, sale_date, price, threshold`` and optionally ``stock_limit``.

    Returns
    -------
    pandas.DataFrame
        The input with ``expected_units`` and ``p_success`` added.
    """
    si = model.sku_index(campaigns["sku_id"].to_numpy())
    ci = model.community_index(campaigns["community_id"].to_numpy())
    wd = pd.to_datetime(campaigns["sale_date"]).dt.day_of_week.to_numpy()
    mu = _mean(_arrays(model), ci, si, campaigns["price"].to_numpy(float), wd)
    limit = campaigns["stock_limit"] if "stock_limit" in campaigns else np.full(len(ci), np.nan)
    raw = raw_success(campaigns["threshold"].to_numpy(), limit, mu, model.dispersion)
    return campaigns.assign(expected_units=mu, p_success=calibrated(model, raw))


def brier(p: np.ndarray, outcome: np.ndarray) -> float:
    """Mean squared error of probabilities ``p`` against 0/1 outcomes."""
    return float(np.mean((np.asarray(p, float) - np.asarray(outcome, float)) ** 2))


def reliability_slope(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """Slope of observed frequency on mean predicted probability over equal-count bins.

    Parameters
    ----------
    p
        Predicted probabilities.
    outcome
        0/1 outcomes.
    bins
        Number of equal-count bins.

    Returns
    -------
    float
        Least-squares slope of the reliability diagram (1 = perfectly calibrated spread).
    """
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    mp = np.array([np.mean(np.asarray(p)[g]) for g in groups if len(g)])
    mo = np.array([np.mean(np.asarray(outcome, float)[g]) for g in groups if len(g)])
    return float(np.polyfit(mp, mo, 1)[0])


def with_level(model: DemandModel, factor: np.ndarray) -> DemandModel:
    """The model with each campaign's expected units at its current price times ``factor``.

    Used to take the demand level from the one forecaster (engine/forecasting/anchor.py)
    while keeping this model's price response: ``eta0`` moves so that ``pi`` at the current
    price is multiplied by ``factor`` (capped below 1, the share of orders that can hold it).

    Parameters
    ----------
    model
        A fitted model.
    factor
        [C, S] positive multipliers (1 leaves a pair unchanged).

    Returns
    -------
    DemandModel
        A copy with the new ``eta0``.

    Raises
    ------
    ValueError
        For a factor of the wrong shape or not positive and finite.
    """
    factor = np.asarray(factor, dtype=float)
    if factor.shape != model.eta0.shape:
        raise ValueError(f"factor must have shape {model.eta0.shape}, got {factor.shape}")
    if not (np.isfinite(factor).all() and (factor > 0).all()):
        raise ValueError("factor must be positive and finite")
    x = np.log(model.current_price / model.list_price[None, :])
    eta = np.clip(model.eta0 + model.elasticity[None, :] * x, -40, 6)
    pi = -np.expm1(-np.exp(eta))
    target = np.clip(pi * factor, 1e-300, 0.999)
    new_eta = np.log(-np.log1p(-target))
    eta0 = np.where(factor == 1.0, model.eta0, model.eta0 + (new_eta - eta))
    return replace(model, eta0=eta0)
