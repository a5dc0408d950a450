"""Churn risk: probability of no order in the next 30 days, with per-user drivers.

A logistic regression on standardised recency / frequency / rhythm features is trained on
a time split — features at cutoff ``t`` and the label "no order in (t, t + horizon]" —
then calibrated (sigmoid, 3-fold). It is evaluated on the *next* window (features at
``t + horizon``, outcomes up to ``t + 2·horizon``) and refitted on that window to score
users as of the last day. A driver is a feature's contribution ``coef × z`` to the
log-odds; the largest positive ones are why a user is at risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine import clock
from engine.auth import ALL, Scope
from engine.segmentation import _inputs, features

DRIVERS = (
    "recency",
    "overdue",
    "frequency",
    "recent_orders",
    "trend",
    "interval",
    "slowdown",
    "basket_value",
    "lines_per_order",
    "discount_depth",
    "tenure",
)


@dataclass(frozen=True)
class ChurnSettings:
    """Horizon (days), look-back of the features, regularisation and seed."""

    horizon_days: int = 30
    lookback_days: int = 180
    c: float = 1.0
    n_drivers: int = 3
    max_train: int = 20_000  # users sampled per training window (seeded)
    seed: int = 0


@dataclass(frozen=True)
class ChurnModel:
    """Scores as of ``as_of`` plus the hold-out evaluation of the same recipe."""

    scores: pd.DataFrame  # user_id, churn_prob, driver_1..n, contrib_1..n
    coefficients: pd.Series  # per driver feature, on the standardised scale
    auc_holdout: float
    brier_holdout: float
    base_rate_holdout: float
    train_cutoff: date
    test_cutoff: date
    as_of: date


def design(f: pd.DataFrame) -> pd.DataFrame:
    """The model's feature matrix from user features (users with at least one order)."""
    interval = f["interval_days"].fillna(f["tenure_days"].clip(lower=1)).clip(lower=1)
    return pd.DataFrame(
        {
            "recency": np.log1p(f["recency_days"]),
            "overdue": np.log1p(f["recency_days"] / interval),
            "frequency": np.log1p(f["frequency"]),
            "recent_orders": np.log1p(f["orders_30d"]),
            "trend": np.log(f["trend"].fillna(1.0).clip(0.05, 20)),
            "interval": np.log1p(interval),
            "slowdown": np.log(f["last_gap_ratio"].fillna(1.0).clip(0.05, 20)),
            "basket_value": np.log1p(f["basket_value"].fillna(0.0)),
            "lines_per_order": f["lines_per_order"].fillna(1.0),
            "discount_depth": f["discount_depth"].fillna(0.0),
            "tenure": np.log1p(f["tenure_days"].clip(lower=0)),
        },
        index=f.index,
    )[list(DRIVERS)]


def _snapshot(con, cutoff, s: ChurnSettings, regions, communities, comms, labelled: bool, scope):
    # Population: users with an order in the look-back window (older lapses are dormant).
    f = features.user_features(
        con, cutoff, s.lookback_days, regions, communities, lifetime=not labelled, scope=scope
    )
    f = f[f["frequency"] > 0].reset_index(drop=True)
    if labelled and len(f) > s.max_train:
        f = f.sample(s.max_train, random_state=s.seed).reset_index(drop=True)
    x = design(f)
    if not labelled:
        return f, x, None
    buyers = features.buyers_between(
        con, cutoff + timedelta(days=1), cutoff + timedelta(days=s.horizon_days), comms
    )
    y = (~f["user_id"].isin(buyers)).astype(int).to_numpy()
    return f, x, y


def _fit(x: pd.DataFrame, y: np.ndarray, s: ChurnSettings):
    if len(np.unique(y)) < 2:
        raise ValueError("the training window has only one outcome: cannot learn churn")
    base = make_pipeline(
        StandardScaler(), LogisticRegression(C=s.c, solver="newton-cholesky", max_iter=100)
    )
    cal = CalibratedClassifierCV(base, method="sigmoid", cv=3)
    cal.fit(x.to_numpy(), y)
    expl = make_pipeline(
        StandardScaler(), LogisticRegression(C=s.c, solver="newton-cholesky", max_iter=100)
    )
    expl.fit(x.to_numpy(), y)
    return cal, expl


def fit_score(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    settings: ChurnSettings | None = None,
    regions: Sequence[int] = (),
    communities: Sequence[int] = (),
    current: pd.DataFrame | None = None,
    scope: Scope = ALL,
) -> ChurnModel:
    """Train on a time split, evaluate on the next window and score users as of ``as_of``.

    Parameters
    ----------
    con
        Connection to a Linli database.
    as_of
        Day whose users are scored; default the world's ``as_of``.
    settings
        Horizon, look-back, regularisation, drivers per user.
    regions, communities
        Restrict to these ids (empty = all).
    current
        User features as of ``as_of`` with the same look-back, when already computed.
    scope
        The caller's row scope; rows outside it are never returned.

    Returns
    -------
    ChurnModel
        Calibrated scores with top drivers, coefficients and hold-out AUC / Brier score.

    Raises
    ------
    ValueError
        For unknown ids, too short a history, or a window with a single outcome.
    """
    s = settings or ChurnSettings()
    end = clock.as_of(con, as_of)
    h = int(s.horizon_days)
    if h < 1:
        raise ValueError(f"horizon_days must be positive, got {h}")
    scoped = _inputs.restriction(con, regions, communities, scope)
    first = con.execute("SELECT min(order_date) FROM orders").fetchall()[0][0]
    train_cut = end - timedelta(days=2 * h)
    test_cut = end - timedelta(days=h)
    if first is None or train_cut <= first:
        raise ValueError(
            f"need more than {2 * h} days of orders before {end} to train and test churn"
        )
    _, x_tr, y_tr = _snapshot(con, train_cut, s, regions, communities, scoped, True, scope)
    _, x_te, y_te = _snapshot(con, test_cut, s, regions, communities, scoped, True, scope)
    cal, _ = _fit(x_tr, y_tr, s)
    p_te = cal.predict_proba(x_te.to_numpy())[:, 1]
    auc = float(roc_auc_score(y_te, p_te)) if len(np.unique(y_te)) == 2 else float("nan")
    brier = float(brier_score_loss(y_te, p_te))

    # Refit on the latest fully observed window, then score today's users.
    cal, expl = _fit(x_te, y_te, s)
    if current is None:
        current = features.user_features(
            con, end, s.lookback_days, regions, communities, scope=scope
        )
    current = scope.keep(con, current)
    cur = current[current["frequency"] > 0].reset_index(drop=True)
    x_now = design(cur)
    prob = cal.predict_proba(x_now.to_numpy())[:, 1]
    scaler, lr = expl[0], expl[1]
    contrib = scaler.transform(x_now.to_numpy()) * lr.coef_[0]
    order = np.argsort(-contrib, axis=1)[:, : s.n_drivers]
    out = pd.DataFrame({"user_id": cur["user_id"].to_numpy(), "churn_prob": prob})
    names = np.array(DRIVERS)
    for k in range(s.n_drivers):
        col = order[:, k]
        val = contrib[np.arange(len(cur)), col]
        out[f"driver_{k + 1}"] = pd.Series(names[col]).where(val > 0, None)
        out[f"contrib_{k + 1}"] = np.where(val > 0, val, 0.0)
    coefs = pd.Series(lr.coef_[0], index=list(DRIVERS), name="coef")
    return ChurnModel(
        out,
        coefs,
        auc,
        brier,
        float(np.mean(y_te)),
        train_cut,
        test_cut,
        end,
    )


def retention_offers(
    users: pd.DataFrame,
    min_prob: float = 0.5,
    min_m_score: int = 4,
    margin_share: float = 0.5,
    max_basket_share: float = 0.2,
    min_coupon: float = 2.0,
) -> pd.DataFrame:
    """High-value users at risk and a retention coupon bounded by their margin.

    The coupon is at most ``margin_share`` of the gross margin the user brings in one
    ``horizon`` (their average margin per order × orders per 30 days) and at most
    ``max_basket_share`` of their usual basket, rounded down to whole yuan; users whose
    bound is below ``min_coupon`` get none (the coupon would cost more than they earn us).

    Parameters
    ----------
    users
        Per-user frame with ``churn_prob``, ``persona``, ``m_score``, ``margin``,
        ``frequency``, ``basket_value`` and ``window_days``.
    min_prob, min_m_score
        Who counts as at risk and as high value (persona ``hv_family`` always counts).
    margin_share, max_basket_share, min_coupon
        Coupon bounds.

    Returns
    -------
    pandas.DataFrame
        At-risk high-value users sorted by expected margin at stake, with
        ``monthly_margin``, ``margin_at_stake`` and ``coupon``.

    Raises
    ------
    ValueError
        For bounds outside [0, 1] or missing columns.
    """
    for name, v in (("min_prob", min_prob), ("margin_share", margin_share)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {v}")
    need = {"churn_prob", "persona", "m_score", "margin", "frequency", "basket_value"}
    need |= {"window_days"}
    missing = need - set(users.columns)
    if missing:
        raise ValueError(f"users lack column(s): {sorted(missing)}")
    hv = (users["persona"] == "hv_family") | (users["m_score"] >= min_m_score)
    risk = users[hv & (users["churn_prob"] >= min_prob)].copy()
    monthly = risk["margin"] / risk["window_days"].clip(lower=1) * 30.0
    risk["monthly_margin"] = monthly.clip(lower=0)
    risk["margin_at_stake"] = risk["monthly_margin"] * risk["churn_prob"]
    bound = np.minimum(
        margin_share * risk["monthly_margin"], max_basket_share * risk["basket_value"].fillna(0)
    )
    coupon = np.floor(bound)
    risk["coupon"] = np.where(coupon >= min_coupon, coupon, 0.0)
    return risk.sort_values("margin_at_stake", ascending=False).reset_index(drop=True)
