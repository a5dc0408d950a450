"""Explainable personas: ordered rules for lifecycle states, named clusters for value.

Lifecycle comes first because it is a fact about time, not taste:

1. ``new`` (潜力新客): signed up within ``new_days`` of ``as_of``.
2. ``dormant`` (沉睡): no order for ``dormant_days`` or more (or never ordered), unless
   the gaps were growing before the stop and the lapse is recent (then churn risk).
3. ``churn_risk`` (流失风险): still buying, but the last order is overdue against the
   user's own rhythm, or the order rate of the last 30 days fell well below the 60
   days before, or a recent lapse that followed a slowdown.

Everyone else is split by a two-centroid k-means on standardised basket features
(lines per order, log basket value, discount depth, imported share). The centroid with
the larger basket value is named ``hv_family`` (高价值家庭), the other
``price_sensitive`` (价格敏感大众). Each label carries the rule or centroid distance that
produced it, so a manager can read why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PERSONAS = ("hv_family", "price_sensitive", "new", "churn_risk", "dormant")
CLUSTER_FEATURES = ("lines_per_order", "log_basket_value", "discount_depth", "imported_share")


@dataclass(frozen=True)
class PersonaSettings:
    """Thresholds of the lifecycle rules (days) and the clustering seed."""

    new_days: int = 30
    dormant_days: int = 60  # the 45–60 day band mixes sudden stops with fades
    gone_days: int = 90  # beyond this a lapse is dormant whatever the rhythm before
    slowdown_ratio: float = 1.2  # last gap this much longer than the usual gap = a fade
    overdue_factor: float = 3.0  # last order older than this many usual intervals
    overdue_min_days: int = 14
    trend_drop: float = 0.35  # 30-day rate below this share of the 60 days before
    trend_min_prev_orders: int = 3
    seed: int = 0


@dataclass(frozen=True)
class PersonaModel:
    """Personas per user with reasons, and the value centroids in original units."""

    labels: pd.DataFrame  # user_id, persona, reason_key + the values the reason cites
    centroids: pd.DataFrame  # persona × CLUSTER_FEATURES (original units)
    settings: PersonaSettings


def assign(features: pd.DataFrame, settings: PersonaSettings | None = None) -> PersonaModel:
    """Label every user with one persona and the reason for it.

    Parameters
    ----------
    features
        Output of :func:`engine.segmentation.features.user_features`.
    settings
        Rule thresholds and seed; defaults when omitted.

    Returns
    -------
    PersonaModel
        ``labels`` has ``user_id``, ``persona``, ``reason_key`` and the cited values
        (``tenure_days``, ``recency_days``, ``interval_days``, ``trend``,
        ``lines_per_order``, ``basket_value``, ``discount_depth``); ``centroids`` gives
        each value persona's centre.

    Raises
    ------
    ValueError
        If ``features`` lacks a needed column or has no rows.
    """
    s = settings or PersonaSettings()
    need = {"user_id", "tenure_days", "recency_days", "interval_days", "trend", "orders_prev"}
    need |= {"last_gap_ratio"}
    need |= {"lines_per_order", "basket_value", "discount_depth", "imported_share"}
    missing = need - set(features.columns)
    if missing:
        raise ValueError(f"features lack column(s): {sorted(missing)}")
    if features.empty:
        raise ValueError("no users to segment")
    f = features
    persona = np.full(len(f), "", dtype=object)
    reason = np.full(len(f), "", dtype=object)

    new = (f["tenure_days"] < s.new_days).to_numpy()
    persona[new], reason[new] = "new", "why_new"
    never = f["recency_days"].isna().to_numpy() & ~new
    persona[never], reason[never] = "dormant", "why_never"
    lapsed = (f["recency_days"] >= s.dormant_days).to_numpy() & (persona == "")
    # A lapse that followed a slowdown is still a churn in progress (worth a coupon);
    # a sudden stop, or one long ago, is dormant.
    slowed = (
        lapsed
        & (f["recency_days"] < s.gone_days).to_numpy()
        & (f["last_gap_ratio"].to_numpy(dtype=float) >= s.slowdown_ratio)
    )
    persona[slowed], reason[slowed] = "churn_risk", "why_slowed"
    dormant = lapsed & ~slowed
    persona[dormant], reason[dormant] = "dormant", "why_dormant"
    interval = f["interval_days"].to_numpy(dtype=float)
    overdue_after = np.maximum(
        s.overdue_min_days, s.overdue_factor * np.nan_to_num(interval, nan=0)
    )
    overdue = (f["recency_days"].to_numpy() >= overdue_after) & (persona == "")
    persona[overdue], reason[overdue] = "churn_risk", "why_overdue"
    fading = (
        (f["trend"].to_numpy() < s.trend_drop)
        & (f["orders_prev"].to_numpy() >= s.trend_min_prev_orders)
        & (persona == "")
    )
    persona[fading], reason[fading] = "churn_risk", "why_fading"

    rest = persona == ""
    centroids = pd.DataFrame(columns=list(CLUSTER_FEATURES))
    if rest.any():
        x = _cluster_matrix(f.loc[rest])
        mu, sd = x.mean(axis=0), x.std(axis=0)
        sd[sd == 0] = 1.0
        z = (x - mu) / sd
        if rest.sum() >= 2:
            centres_z, assign_z = _two_means(z, s.seed)
            centres = centres_z * sd + mu
            hv = int(np.argmax(centres[:, 1]))  # larger log basket value
            lab = np.where(assign_z == hv, "hv_family", "price_sensitive")
            names = ["hv_family" if k == hv else "price_sensitive" for k in range(2)]
        else:
            centres = x.copy()
            lab = np.array(["price_sensitive"])
            names = ["price_sensitive"]
        persona[rest] = lab
        reason[rest] = np.where(lab == "hv_family", "why_hv", "why_price")
        centroids = pd.DataFrame(centres, columns=list(CLUSTER_FEATURES), index=names)
        centroids["basket_value"] = np.exp(centroids["log_basket_value"])
        centroids = centroids.drop(columns=["log_basket_value"])

    cited = [
        "tenure_days",
        "recency_days",
        "interval_days",
        "trend",
        "lines_per_order",
        "basket_value",
        "discount_depth",
    ]
    labels = f[["user_id", *cited]].copy()
    labels.insert(1, "persona", persona.astype(str))
    labels.insert(2, "reason_key", reason.astype(str))
    return PersonaModel(labels.reset_index(drop=True), centroids, s)


def _two_means(
    z: np.ndarray, seed: int, n_init: int = 3, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means for k = 2 in numpy (fast and single-threaded on 100k users)."""
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(n_init):
        c = z[rng.choice(len(z), 2, replace=False)].copy()
        for _ in range(max_iter):
            d0 = ((z - c[0]) ** 2).sum(axis=1)
            d1 = ((z - c[1]) ** 2).sum(axis=1)
            lab = (d1 < d0).astype(np.int64)
            n1 = int(lab.sum())
            if n1 in (0, len(z)):
                break
            new = np.vstack([z[lab == 0].mean(axis=0), z[lab == 1].mean(axis=0)])
            done = np.allclose(new, c)
            c = new
            if done:
                break
        inertia = float(np.minimum(d0, d1).sum())
        if best is None or inertia < best[0]:
            best = (inertia, c, lab)
    assert best is not None
    return best[1], best[2]


def _cluster_matrix(f: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        [
            f["lines_per_order"].fillna(1.0).to_numpy(dtype=float),
            np.log1p(f["basket_value"].fillna(0.0).to_numpy(dtype=float)),
            f["discount_depth"].fillna(0.0).to_numpy(dtype=float),
            f["imported_share"].fillna(0.0).to_numpy(dtype=float),
        ]
    )
