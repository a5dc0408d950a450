"""What-if scenarios, price curves and the price/threshold optimiser for group-buy campaigns.

Per campaign (one SKU in one community on one day), in expectation:

- ``units``: units ordered, ``mu(price - coupon)`` from :mod:`engine.pricing.response`;
- ``p_success``: calibrated ``P(units >= threshold)`` (成团率);
- ``sold``: units delivered, ``E[units · 1{units >= threshold}]`` under the negative binomial
  (failed groups are refunded);
- ``gmv``: ``price × sold`` (before coupons); ``net``: ``(price - coupon) × sold``;
- ``margin``: gross margin ``(price - coupon - unit_cost) × sold``;
- ``commission``: the leader's ``commission_rate × net``.

The optimiser searches only the price range the data support for each SKU
(:mod:`engine.pricing.evidence`) unless told to widen it, flags answers outside that range as
``extrapolated``, and with a cost model (:mod:`engine.pricing.costs`) chooses the threshold
that maximises margin after commission, handling and the group's share of the delivery stop.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from engine.auth import ALL, Scope
from engine.pricing import costs as cost_model
from engine.pricing import evidence, response

METRICS = ("units", "p_success", "sold", "gmv", "net", "margin", "commission")
OBJECTIVES = ("margin", "gmv")


@dataclass(frozen=True)
class Scenario:
    """A change to the current plan; unset fields keep the current value."""

    price: float | Mapping[int, float] | None = None  # absolute price, or per SKU id
    price_change: float | None = None  # relative to the current price, e.g. -0.1
    threshold: int | None = None  # group threshold for every selected campaign
    coupon: float = 0.0  # CNY off per unit, paid by the platform


@dataclass(frozen=True)
class OptimiseSettings:
    """Constraints and objective of :func:`optimise` (loadable from TOML)."""

    objective: str = "margin"  # margin | gmv
    target: float = 0.9  # minimum group-success probability (the seeds' 90 % bar)
    # Bounds as fractions of the list price. With ``evidence`` on, the observed range is the
    # guard; the ceiling only stops a search the data do not bound (``evidence`` off). At 1.2
    # it cut off prices a history of price tests supports (listings up to 1.3 × list).
    price_min: float = 0.5
    price_max: float = 1.5
    price_step: float = 0.01
    min_margin: float = 0.0  # minimum gross margin rate on the price paid
    threshold_min: int = 1
    threshold_max: int = 200
    campaign_cost: float = 0.0  # CNY per formed group (handling, delivery slot)
    coupon: float = 0.0
    evidence: bool = True  # search only the observed price range of each SKU
    widen: float = 0.0  # widen that range by this fraction of list price on each side

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if not 0 < self.target < 1:
            raise ValueError(f"target success probability must lie in (0, 1), got {self.target}")
        if not 0 < self.price_min <= self.price_max:
            raise ValueError("price bounds need 0 < price_min <= price_max")
        if not 0 < self.price_step <= self.price_max:
            raise ValueError("price_step must be positive")
        if not 1 <= self.threshold_min <= self.threshold_max:
            raise ValueError("thresholds need 1 <= threshold_min <= threshold_max")
        if not -1 < self.min_margin < 1:
            raise ValueError("min_margin is a rate in (-1, 1)")
        if self.campaign_cost < 0 or self.coupon < 0:
            raise ValueError("campaign_cost and coupon must be non-negative")
        if not 0 <= self.widen <= 10:
            raise ValueError("widen is a fraction of list price in [0, 10]")

    @classmethod
    def from_file(cls, path: str | Path) -> OptimiseSettings:
        """Load settings from a TOML file (a ``[pricing.optimise]`` table or top level)."""
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        raw = raw.get("pricing", {}).get("optimise", raw)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown optimiser setting(s): {', '.join(sorted(unknown))}")
        return cls(**raw)


@dataclass(frozen=True)
class WhatIf:
    """Result of :func:`simulate`: one row per SKU × community, and totals."""

    rows: pd.DataFrame
    totals: pd.DataFrame  # metric, current, scenario, delta, delta_pct


def _metrics(
    model: response.DemandModel,
    ci: np.ndarray,
    si: np.ndarray,
    price: np.ndarray,
    threshold: np.ndarray,
    coupon: np.ndarray | float,
) -> dict[str, np.ndarray]:
    """Expected campaign metrics for positions ``ci``, ``si`` (equal shapes)."""
    paid = price - coupon
    mu = response._mean(response._arrays(model), ci, si, paid)
    p = response.calibrated(model, response.nb_sf(threshold, mu, model.dispersion))
    sold = response.nb_partial(threshold, mu, model.dispersion)
    net = paid * sold
    return {
        "units": mu,
        "p_success": p,
        "sold": sold,
        "gmv": price * sold,
        "net": net,
        "margin": (paid - model.unit_cost[si]) * sold,
        "commission": model.commission[ci] * net,
    }


def _check_ids(model, sku_ids, community_ids, scope: Scope):
    si = model.sku_index(sku_ids)
    ci = model.community_index(community_ids, scope)
    if len(si) == 0:
        raise ValueError("choose at least one SKU")
    return si, ci


def simulate(
    model: response.DemandModel,
    sku_ids: Sequence[int],
    community_ids: Sequence[int] | None = None,
    scenario: Scenario = Scenario(),
    scope: Scope = ALL,
) -> WhatIf:
    """Compare a scenario with the current plan for every SKU × community.

    Parameters
    ----------
    model
        Fitted demand model.
    sku_ids
        SKUs the scenario changes.
    community_ids
        Communities (default: all).
    scenario
        Price (absolute or % change), threshold and coupon.
    scope
        The caller's row scope; communities outside it are left out.

    Returns
    -------
    WhatIf
        Per-pair metrics now and under the scenario with deltas, and totals.

    Raises
    ------
    ValueError
        For unknown SKUs or communities, a price <= 0, a threshold < 1, a coupon that is
        negative or not below the price.
    """
    si, ci = _check_ids(model, sku_ids, community_ids, scope)
    cc, ss = np.meshgrid(ci, si, indexing="xy")  # [S, C]
    cc, ss = cc.ravel(), ss.ravel()
    p_now = model.current_price[cc, ss]
    k_now = model.current_threshold[cc, ss]
    if scenario.price is not None and scenario.price_change is not None:
        raise ValueError("give either an absolute price or a price change, not both")
    if isinstance(scenario.price, Mapping):
        ids = model.sku_ids[ss]
        per_sku = np.array([scenario.price.get(int(i), np.nan) for i in ids], dtype=float)
        price = np.where(np.isnan(per_sku), p_now, per_sku)
        given = np.array(list(scenario.price.values()), dtype=float)
        model.sku_index(list(scenario.price))  # unknown SKU ids in the mapping raise
    elif scenario.price is not None:
        given = np.array([scenario.price], dtype=float)
        price = np.full(len(ss), float(scenario.price))
    elif scenario.price_change is not None:
        if scenario.price_change <= -1:
            raise ValueError("a price change must be above -100 %")
        given = np.array([1.0])
        price = p_now * (1 + scenario.price_change)
    else:
        given = np.array([1.0])
        price = p_now
    if (given <= 0).any() or not np.isfinite(given).all():
        raise ValueError("price must be positive")
    if scenario.threshold is not None:
        if int(scenario.threshold) != scenario.threshold or scenario.threshold < 1:
            raise ValueError(f"threshold must be an integer >= 1, got {scenario.threshold}")
        k = np.full(len(ss), int(scenario.threshold))
    else:
        k = k_now
    coupon = float(scenario.coupon)
    if coupon < 0:
        raise ValueError("coupon must be non-negative")
    if (coupon >= price).any():
        raise ValueError("coupon must be below the price")
    now = _metrics(model, cc, ss, p_now, k_now, 0.0)
    new = _metrics(model, cc, ss, price, k, coupon)
    cols = {
        "sku_id": model.sku_ids[ss],
        "community_id": model.community_ids[cc],
        "category": model.category[ss],
        "price_now": p_now,
        "price": price,
        "threshold_now": k_now,
        "threshold": k,
        "coupon": coupon,
    }
    for m in METRICS:
        cols[m + "_now"] = now[m]
        cols[m] = new[m]
        cols[m + "_delta"] = new[m] - now[m]
    cols["extrapolated"] = _outside(model, ss, price)
    rows = pd.DataFrame(cols)
    totals = []
    for m in METRICS:
        if m == "p_success":
            cur, sc = float(now[m].mean()), float(new[m].mean())
        else:
            cur, sc = float(now[m].sum()), float(new[m].sum())
        totals.append((m, cur, sc, sc - cur, (sc - cur) / cur if cur else np.nan))
    return WhatIf(
        rows, pd.DataFrame(totals, columns=["metric", "current", "scenario", "delta", "delta_pct"])
    )


def curve(
    model: response.DemandModel,
    sku_id: int,
    community_ids: Sequence[int] | None = None,
    prices: Sequence[float] | None = None,
    threshold: int | None = None,
    coupon: float = 0.0,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Price → units, GMV, margin and success probability for one SKU, summed over communities.

    Parameters
    ----------
    model
        Fitted demand model.
    sku_id
        The SKU.
    community_ids
        Communities (default: all).
    prices
        Price grid (default 50–120 % of list in 1 % steps).
    threshold
        Group threshold (default: each community's current one).
    coupon
        CNY off per unit.
    scope
        The caller's row scope; communities outside it are left out.

    Returns
    -------
    pandas.DataFrame
        ``price``, the summed metrics of :data:`METRICS` (``p_success`` averaged) and
        ``extrapolated`` (the price lies outside the SKU's observed range).

    Raises
    ------
    ValueError
        For an unknown SKU or community, a non-positive price or a threshold < 1.
    """
    si, ci = _check_ids(model, [sku_id], community_ids, scope)
    lp = model.list_price[si[0]]
    grid = np.asarray(
        prices if prices is not None else lp * np.arange(0.5, 1.2001, 0.01), dtype=float
    )
    if (grid <= coupon).any():
        raise ValueError("prices must be positive and above the coupon")
    if threshold is not None and (int(threshold) != threshold or threshold < 1):
        raise ValueError(f"threshold must be an integer >= 1, got {threshold}")
    pp, cc = np.meshgrid(grid, ci, indexing="ij")  # [P, C]
    ss = np.full_like(cc, si[0])
    k = model.current_threshold[cc, ss] if threshold is None else np.full(cc.shape, threshold)
    m = _metrics(model, cc, ss, pp, k, coupon)
    out = {"price": grid}
    for name in METRICS:
        out[name] = m[name].mean(axis=1) if name == "p_success" else m[name].sum(axis=1)
    out["extrapolated"] = _outside(model, np.full(len(grid), si[0]), grid)
    return pd.DataFrame(out)


def _outside(model: response.DemandModel, si: np.ndarray, price: np.ndarray) -> np.ndarray:
    """True where ``price`` of SKU positions ``si`` lies outside its observed range."""
    pr = model.prices
    if pr is None:
        return np.zeros(len(si), dtype=bool)
    return evidence.outside(price / model.list_price[si], pr.low[si], pr.high[si])


def _nb_table(mu: np.ndarray, alpha: float, kmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``P(U >= k)`` and ``E[U 1{U >= k}]`` for k = 0..kmax by the pmf recurrence."""
    r = 1.0 / max(alpha, 1e-6)
    q = r / (r + np.maximum(mu, 1e-12))
    pmf = np.exp(r * np.log(q))
    sf = np.empty((kmax + 1, *mu.shape))
    part = np.empty_like(sf)
    cdf = np.zeros_like(mu)
    low = np.zeros_like(mu)  # sum of u * pmf(u) for u < k
    for k in range(kmax + 1):
        sf[k] = np.clip(1.0 - cdf, 0.0, 1.0)
        part[k] = np.maximum(mu - low, 0.0)
        cdf = cdf + pmf
        low = low + k * pmf
        pmf = pmf * (k + r) / (k + 1) * (1 - q)
    return sf, part


def _largest_threshold(model: response.DemandModel, mu: np.ndarray, target: float) -> int:
    """No threshold above this can reach ``target`` anywhere (bounds the search)."""
    a, b = model.calibration
    if b <= 0:
        return 10**6
    raw_target = special.expit((special.logit(target) - a) / b)
    r = 1.0 / max(model.dispersion, 1e-6)
    q = stats.nbinom.ppf(1 - raw_target, r, r / (r + float(np.max(mu))))
    return int(q) + 1


def _search_range(
    model: response.DemandModel, sku_pos: int, settings: OptimiseSettings
) -> tuple[float, float, float, float, str]:
    """Price search bounds of one SKU as fractions of list price.

    Returns
    -------
    tuple
        ``(low, high)`` to search, the observed ``(low, high)`` and the range's source
        (``sku``, ``category``, ``none`` or ``unknown`` when the model has no ranges).
    """
    s = settings
    pr = model.prices
    if pr is None:
        return s.price_min, s.price_max, np.nan, np.nan, "unknown"
    lo, hi = float(pr.low[sku_pos]), float(pr.high[sku_pos])
    if not s.evidence:
        return s.price_min, s.price_max, lo, hi, str(pr.source[sku_pos])
    a = max(s.price_min, lo - s.widen)
    b = min(s.price_max, hi + s.widen)
    if a > b:  # the observed range lies outside the global bounds: keep the nearest bound
        a = b = min(max(lo, s.price_min), s.price_max)
    return a, b, lo, hi, str(pr.source[sku_pos])


def optimise(
    model: response.DemandModel,
    sku_id: int,
    community_ids: Sequence[int] | None = None,
    settings: OptimiseSettings = OptimiseSettings(),
    scope: Scope = ALL,
    costs: cost_model.CostModel | None = None,
) -> pd.DataFrame:
    """Best price and threshold per community for one SKU under the success constraint.

    Searches the price grid within the SKU's observed price range (widened by
    ``settings.widen``, inside ``price_min..price_max``; the whole bounds when
    ``settings.evidence`` is off or the model has no ranges) and every threshold in
    ``threshold_min..threshold_max`` for the pair maximising expected margin (or GMV) after
    costs, subject to ``P(success) >= target`` and a gross margin rate of at least
    ``min_margin``. Costs: ``campaign_cost`` per formed group and, with a cost model, the
    leader's commission on net GMV, handling per unit and the group's share of the delivery
    stop. Without a cost per group a lower threshold never hurts, so the optimiser then
    returns ``threshold_min``.

    Parameters
    ----------
    model
        Fitted demand model.
    sku_id
        The SKU.
    community_ids
        Communities (default: all).
    settings
        Objective, constraints and the price range.
    scope
        The caller's row scope; communities outside it are left out.
    costs
        Per-community cost model (:func:`engine.pricing.costs.defaults`); ``None`` counts only
        ``campaign_cost``.

    Returns
    -------
    pandas.DataFrame
        Per community: ``feasible``, chosen ``price``, ``threshold``, the metrics, the current
        plan's ``price_now``, ``threshold_now`` and metrics (``*_now``), ``objective`` for
        both, ``net_margin`` (margin after every cost), the observed range ``observed_low``
        and ``observed_high`` (CNY), its ``price_source`` and ``extrapolated`` (the chosen
        price lies outside the observed range). Infeasible communities keep their current
        plan.

    Raises
    ------
    ValueError
        For an unknown SKU or community, or communities missing from ``costs``.
    """
    s = settings
    si, ci = _check_ids(model, [sku_id], community_ids, scope)
    j = si[0]
    lp, cost = model.list_price[j], model.unit_cost[j]
    r_lo, r_hi, obs_lo, obs_hi, source = _search_range(model, int(j), s)
    ratios = np.arange(s.price_min, s.price_max + s.price_step / 2, s.price_step)
    ratios = ratios[(ratios >= r_lo - 1e-9) & (ratios <= r_hi + 1e-9)]
    ratios = np.unique(np.r_[ratios, r_lo, r_hi])
    grid = lp * ratios
    grid = grid[grid > s.coupon]
    if grid.size == 0:
        raise ValueError("no price in the bounds lies above the coupon")
    ids = model.community_ids[ci]
    cm = costs.at(ids) if costs is not None else None
    com = cm.commission if cm is not None else np.zeros(len(ci))
    handling = cm.handling_per_unit if cm is not None else np.zeros(len(ci))
    group = s.campaign_cost + (cm.group_cost if cm is not None else np.zeros(len(ci)))
    pp, cc = np.meshgrid(grid, ci, indexing="ij")  # [P, C]
    ss = np.full_like(cc, j)
    paid = pp - s.coupon
    mu = response._mean(response._arrays(model), cc, ss, paid)
    kmax = max(s.threshold_min, min(s.threshold_max, _largest_threshold(model, mu, s.target)))
    sf, part = _nb_table(mu, model.dispersion, kmax)
    ks = np.arange(s.threshold_min, kmax + 1)
    p_ok = response.calibrated(model, sf[ks])  # [K, P, C]
    sold = part[ks]
    if s.objective == "margin":
        value = paid * (1 - com[None, :]) - cost - handling[None, :]
    else:
        value = pp
    obj = value[None] * sold - group[None, None, :] * p_ok
    margin_rate = (paid - cost) / paid
    ok = (p_ok >= s.target) & (margin_rate >= s.min_margin)[None]
    score = np.where(ok, obj, -np.inf).reshape(-1, len(ci))
    best = score.argmax(axis=0)
    feasible = np.isfinite(score[best, np.arange(len(ci))])
    kb, pb = np.unravel_index(best, (len(ks), len(grid)))
    price = np.where(feasible, grid[pb], model.current_price[ci, j])
    thr = np.where(feasible, ks[kb], model.current_threshold[ci, j])
    new = _metrics(model, ci, np.full_like(ci, j), price, thr, np.where(feasible, s.coupon, 0.0))
    now = _metrics(
        model,
        ci,
        np.full_like(ci, j),
        model.current_price[ci, j],
        model.current_threshold[ci, j],
        0.0,
    )
    out = {
        "community_id": ids,
        "sku_id": model.sku_ids[j],
        "feasible": feasible,
        "price": price,
        "threshold": thr,
        "price_now": model.current_price[ci, j],
        "threshold_now": model.current_threshold[ci, j],
    }
    for name in METRICS:
        out[name] = new[name]
        out[name + "_now"] = now[name]

    def net(m: dict[str, np.ndarray]) -> np.ndarray:
        return m["margin"] - com * m["net"] - handling * m["sold"] - group * m["p_success"]

    key = "margin" if s.objective == "margin" else "gmv"
    if s.objective == "margin":
        out["objective"] = net(new)
        out["objective_now"] = net(now)
    else:
        out["objective"] = new[key] - group * new["p_success"]
        out["objective_now"] = now[key] - group * now["p_success"]
    out["net_margin"] = net(new)
    out["net_margin_now"] = net(now)
    out["observed_low"] = obs_lo * lp
    out["observed_high"] = obs_hi * lp
    out["price_source"] = source
    out["extrapolated"] = (
        evidence.outside(price / lp, np.full(len(ci), obs_lo), np.full(len(ci), obs_hi))
        if np.isfinite(obs_lo)
        else np.zeros(len(ci), dtype=bool)
    )
    return pd.DataFrame(out)


def evaluate(
    model: response.DemandModel,
    campaigns: pd.DataFrame,
    costs: cost_model.CostModel | None = None,
) -> pd.DataFrame:
    """Expected metrics of given campaigns under ``model``, with margin after costs.

    Used to score a plan under another demand model (a refit, or a world's planted truth).

    Parameters
    ----------
    model
        Demand model.
    campaigns
        ``community_id, sku_id, price, threshold``.
    costs
        Cost model; ``None`` counts no costs.

    Returns
    -------
    pandas.DataFrame
        The input with :data:`METRICS` and ``net_margin`` added.

    Raises
    ------
    ValueError
        For unknown ids, a non-positive price or a threshold < 1.
    """
    si = model.sku_index(campaigns["sku_id"].to_numpy())
    ci = model.community_index(campaigns["community_id"].to_numpy())
    price = campaigns["price"].to_numpy(float)
    thr = campaigns["threshold"].to_numpy()
    if (price <= 0).any() or (thr < 1).any():
        raise ValueError("prices must be positive and thresholds at least 1")
    m = _metrics(model, ci, si, price, thr, 0.0)
    out = campaigns.assign(**m)
    if costs is None:
        return out.assign(net_margin=m["margin"])
    cm = costs.at(model.community_ids[ci])
    net = (
        m["margin"]
        - cm.commission * m["net"]
        - cm.handling_per_unit * m["sold"]
        - cm.group_cost * m["p_success"]
    )
    return out.assign(net_margin=net)


def curve_optimum(curve_df: pd.DataFrame, objective: str = "margin", target: float = 0.9):
    """The row of a :func:`curve` frame with the best objective among prices meeting ``target``.

    Parameters
    ----------
    curve_df
        Output of :func:`curve`.
    objective
        ``margin`` or ``gmv``.
    target
        Minimum mean success probability, in (0, 1).

    Returns
    -------
    pandas.Series or None
        The chosen row, or ``None`` when no price reaches the target.

    Raises
    ------
    ValueError
        For an unknown objective or a target outside (0, 1).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
    if not 0 < target < 1:
        raise ValueError(f"target success probability must lie in (0, 1), got {target}")
    ok = curve_df[curve_df["p_success"] >= target]
    if ok.empty:
        return None
    return ok.loc[ok[objective].idxmax()]
