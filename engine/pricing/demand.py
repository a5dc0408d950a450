"""Demand response of a campaign and its group-success probability (成团率).

For SKU ``s`` in community ``c`` at effective price ``p``::

    pi(p)  = 1 - exp(-exp(eta0[c, s] + b_s * log(p / list_s)))   # share of orders with s
    mu(p)  = orders[c] * weekday * qty[c] * pi(p)                  # expected units

``eta0`` is the community's recent level plus the SKU and community × category effects of the
elasticity fit; ``orders[c]`` its recent daily orders and ``qty[c]`` its mean units per line.
Units are negative binomial with mean ``mu`` and ``Var = mu + alpha * mu²``; ``alpha`` and a
logistic recalibration of ``P(units >= k)`` are fitted on the last days of the window,
predicted from the days before them, so both include the error of predicting a future day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import special, stats

from engine.pricing import data, elasticity

RECENT_DAYS = 28


@dataclass(frozen=True)
class DemandModel:
    """Everything needed to predict any SKU × community campaign, as dense arrays."""

    end: date  # last training day; predictions are for the days after it
    sku_ids: np.ndarray  # [S]
    community_ids: np.ndarray  # [C]
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
    calibration: tuple[float, float]  # logistic (intercept, slope) on logit P
    categories: pd.DataFrame = field(repr=False)  # category elasticities with intervals
    skus: pd.DataFrame = field(repr=False)  # per-SKU elasticities

    def sku_index(self, sku_ids) -> np.ndarray:
        """Positions of ``sku_ids``; raises ``ValueError`` naming any unknown SKU."""
        ids = np.atleast_1d(np.asarray(sku_ids, dtype=np.int64))
        pos = np.searchsorted(self.sku_ids, ids)
        pos = np.clip(pos, 0, len(self.sku_ids) - 1)
        bad = self.sku_ids[pos] != ids
        if bad.any():
            raise ValueError(f"unknown SKU id(s): {', '.join(map(str, ids[bad][:5]))}")
        return pos

    def community_index(self, community_ids=None) -> np.ndarray:
        """Positions of ``community_ids`` (all when ``None``); unknown ids raise ``ValueError``."""
        if community_ids is None:
            return np.arange(len(self.community_ids))
        ids = np.atleast_1d(np.asarray(community_ids, dtype=np.int64))
        pos = np.clip(np.searchsorted(self.community_ids, ids), 0, len(self.community_ids) - 1)
        bad = self.community_ids[pos] != ids
        if bad.any():
            raise ValueError(f"unknown community id(s): {', '.join(map(str, ids[bad][:5]))}")
        return pos


def _level(frame: pd.DataFrame, cat: elasticity.CategoryFit, end: date):
    """Per-community recent level of the community × day effect, orders, qty and weekday."""
    f = cat.frame[cat.fit.keep]
    cd_fe = cat.fit.fe[0]
    per_cd = f.groupby("cd").agg(community_id=("community_id", "first"), day=("sale_date", "first"))
    per_cd["a"] = cd_fe[per_cd.index.to_numpy()]
    recent = per_cd[pd.to_datetime(per_cd["day"]) > pd.Timestamp(end - timedelta(RECENT_DAYS))]
    level = recent.groupby("community_id")["a"].mean()
    level = level.combine_first(per_cd.groupby("community_id")["a"].mean())
    traffic = frame.groupby(["community_id", "sale_date"])["n_orders"].first().reset_index()
    traffic["wd"] = pd.to_datetime(traffic["sale_date"]).dt.weekday
    rel = traffic["n_orders"] / traffic.groupby("community_id")["n_orders"].transform("mean")
    weekday = rel.groupby(traffic["wd"]).mean().reindex(range(7)).fillna(1.0).to_numpy()
    weekday = weekday / weekday.mean()
    last = traffic[
        pd.to_datetime(traffic["sale_date"]) > pd.Timestamp(end - timedelta(RECENT_DAYS))
    ]
    orders = last.groupby("community_id")["n_orders"].mean()
    ok = frame[~frame["sold_out"].astype(bool)]
    qty = ok.groupby("community_id")["units"].sum() / ok.groupby("community_id")["lines"].sum()
    return level, orders, qty, weekday


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
    b = b_sku.fillna(b_cat).fillna(float(np.nanmean(cat.fit.beta))).to_numpy()

    f = cat.frame[cat.fit.keep]
    sk_fe = pd.Series(cat.fit.fe[1][f["sk"].to_numpy()], index=f["sku_id"].to_numpy())
    sk_fe = sk_fe.groupby(level=0).first()
    a_sku = skus["sku_id"].map(sk_fe)
    a_sku = a_sku.fillna(a_sku.groupby(skus["category"]).transform("mean")).fillna(a_sku.mean())
    cc = pd.DataFrame(
        {
            "community_id": f["community_id"].to_numpy(),
            "category": f["category"].to_numpy(),
            "a": cat.fit.fe[2][f["cc"].to_numpy()],
        }
    ).drop_duplicates(["community_id", "category"])
    cc = cc.merge(comms[["community_id", "type"]], on="community_id")
    grid = comms[["community_id", "type"]].merge(
        pd.DataFrame({"category": sorted(skus["category"].unique())}), how="cross"
    )
    grid = grid.merge(cc[["community_id", "category", "a"]], how="left")
    by_type = cc.groupby(["type", "category"])["a"].mean().rename("a_type")
    grid = grid.join(by_type, on=["type", "category"])
    by_cat = cc.groupby("category")["a"].mean().rename("a_cat")
    grid = grid.join(by_cat, on="category")
    grid["a"] = grid["a"].fillna(grid["a_type"]).fillna(grid["a_cat"]).fillna(0.0)
    cc_mat = grid.pivot(index="community_id", columns="category", values="a")
    cc_mat = cc_mat.reindex(index=c_ids)[skus["category"]].to_numpy()  # [C, S]
    lv = pd.Series(c_ids).map(cat_lv).fillna(cat_lv.mean() if len(cat_lv) else 0.0).to_numpy()
    eta0 = lv[:, None] + a_sku.to_numpy()[None, :] + cc_mat

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
    return arr["orders"][ci] * day * arr["qty"][ci] * pi


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


def _calibrate(raw: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration ``logit P = a + b logit raw`` by Newton's method."""
    z = special.logit(np.clip(raw, 1e-6, 1 - 1e-6))
    y = outcome.astype(float)
    theta = np.array([0.0, 1.0])
    design = np.column_stack([np.ones_like(z), z])
    for _ in range(50):
        p = special.expit(design @ theta)
        grad = design.T @ (y - p)
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta += step
        if np.abs(step).max() < 1e-9:
            break
    return float(theta[0]), float(theta[1])


def calibrated(model: DemandModel, raw: np.ndarray) -> np.ndarray:
    """Apply the model's recalibration to raw negative-binomial probabilities."""
    a, b = model.calibration
    z = special.logit(np.clip(raw, 1e-9, 1 - 1e-9))
    return special.expit(a + b * z)


def fit(
    con: duckdb.DuckDBPyConnection,
    end: date | None = None,
    days: int = 120,
    calibration_days: int = 14,
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
        When the window is too short or holds no campaigns.
    """
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
    wd = pd.to_datetime(late["sale_date"]).dt.weekday.to_numpy()
    mu = _mean(pre, ci, si, late["price"].to_numpy(), wd)
    y = late["units"].to_numpy(float)
    fresh = ~late["sold_out"].to_numpy(bool)
    alpha = float(max(1e-3, ((y - mu) ** 2 - mu)[fresh].sum() / max((mu**2)[fresh].sum(), 1e-9)))
    raw = raw_success(late["threshold"].to_numpy(), late["stock_limit"].to_numpy(), mu, alpha)
    calib = _calibrate(raw, late["success"].to_numpy())

    arr = _build(con, frame, end, level)
    cur_t = np.maximum(1, np.round(_threshold_rule(frame, arr))).astype(np.int64)
    ci, si, thr = arr["last"]
    cur_t[ci, si] = thr
    return DemandModel(
        end=end,
        sku_ids=arr["sku_ids"],
        community_ids=arr["community_ids"],
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
        calibration=calib,
        categories=arr["cat"].table,
        skus=arr["per_sku"],
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
    wd = pd.to_datetime(campaigns["sale_date"]).dt.weekday.to_numpy()
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
