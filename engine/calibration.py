"""Calibrating the plan's group-success probability against realised outcomes.

Every stored plan item whose group then ran (a campaign of the same community, SKU and sale
day) is one outcome: the demand model's probability ``p`` and whether the group formed. A
logistic recalibration ``p' = sigmoid(a + b · logit(p))`` is fitted to them by penalised
maximum likelihood, the penalty ``prior/2 · (a² + (b − 1)²)`` acting like ``prior``
pseudo-outcomes that agree with the model: with few outcomes the map stays near the identity,
with many it follows the data. :func:`update` refits on every outcome so far and stores the
map; :func:`engine.planning.build` applies the latest one (:func:`current`). docs/
actions-outcomes.md describes the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

EPS = 1e-4


@dataclass(frozen=True)
class Calibration:
    """A fitted map ``p' = sigmoid(a + b · logit(p))`` and how well it did on its data."""

    a: float
    b: float
    n: int
    prior: float
    brier_before: float
    brier_after: float
    fitted_at: datetime | None = None


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def apply(cal: Calibration | None, p: np.ndarray) -> np.ndarray:
    """Calibrated probabilities (``p`` unchanged without a calibration)."""
    p = np.asarray(p, dtype=float)
    if cal is None:
        return p
    return _sigmoid(cal.a + cal.b * _logit(p))


def fit(p: np.ndarray, y: np.ndarray, prior: float = 20.0) -> Calibration:
    """Penalised logistic recalibration of predicted probabilities ``p`` to outcomes ``y``.

    Parameters
    ----------
    p
        Predicted probabilities in [0, 1] (clipped to [1e-4, 1 − 1e-4]).
    y
        Outcomes, 0 or 1.
    prior
        Strength (in outcomes) of the pull towards the identity map; > 0.

    Returns
    -------
    Calibration
        ``a``, ``b``, the count and the Brier score before and after (on the same outcomes).

    Raises
    ------
    ValueError
        For empty or mismatched inputs, outcomes other than 0/1, or ``prior ≤ 0``.
    """
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if len(p) == 0 or len(p) != len(y):
        raise ValueError("p and y must be non-empty and of equal length")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1")
    if prior <= 0:
        raise ValueError(f"prior must be > 0, got {prior}")
    x = _logit(p)
    theta = np.array([0.0, 1.0])
    for _ in range(100):  # Newton's method on a strictly concave objective
        mu = _sigmoid(theta[0] + theta[1] * x)
        r = y - mu
        grad = np.array([r.sum(), (r * x).sum()]) - prior * (theta - [0.0, 1.0])
        w = mu * (1 - mu)
        hess = -np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
        hess -= prior * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta = theta - step
        if np.abs(step).max() < 1e-10:
            break
    after = _sigmoid(theta[0] + theta[1] * x)
    return Calibration(
        float(theta[0]),
        float(theta[1]),
        len(p),
        float(prior),
        float(np.mean((p - y) ** 2)),
        float(np.mean((after - y) ** 2)),
    )


def outcomes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored plan item whose group ran: the model's probability and the outcome.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    pandas.DataFrame
        ``plan_id, community_id, sku_id, sale_date, p_model, success, same_terms`` (the group
        ran at the planned price, within 2 %, and threshold), oldest sale day first; plan
        items stored before calibration existed use their ``p_success``.
    """
    return con.execute(
        "SELECT i.plan_id, i.community_id, i.sku_id, g.sale_date, "
        "coalesce(i.p_model, i.p_success) AS p_model, c.success::INTEGER AS success, "
        "(abs(c.price - i.price) <= 0.02 * i.price AND c.threshold = i.threshold) AS same_terms "
        "FROM group_plan_items i JOIN group_plans g USING (plan_id) "
        "JOIN campaigns c ON c.community_id = i.community_id AND c.sku_id = i.sku_id "
        "AND c.sale_date = g.sale_date ORDER BY g.sale_date, i.plan_id, i.community_id, i.sku_id"
    ).df()


def update(
    con: duckdb.DuckDBPyConnection, prior: float = 20.0, same_terms_only: bool = False
) -> Calibration:
    """Refit the calibration on every realised plan item so far and store it.

    Parameters
    ----------
    con
        Writable connection.
    prior
        See :func:`fit`.
    same_terms_only
        Use only groups that ran at the planned price and threshold (in real operation, where
        published plans create the groups, that is every one).

    Returns
    -------
    Calibration
        The stored calibration.

    Raises
    ------
    ValueError
        When no stored plan has a realised outcome yet (its sale day's campaigns not loaded).
    """
    df = outcomes(con)
    if same_terms_only:
        df = df[df["same_terms"]]
    if df.empty:
        raise ValueError(
            "no plan item has a realised outcome yet: save a plan, then load the campaigns "
            "of its sale day"
        )
    cal = fit(df["p_model"].to_numpy(), df["success"].to_numpy(), prior)
    now = datetime.now()
    con.execute(
        "INSERT INTO success_calibration VALUES (?, ?, ?, ?, ?, ?, ?)",
        [now, cal.n, cal.a, cal.b, cal.prior, cal.brier_before, cal.brier_after],
    )
    return Calibration(cal.a, cal.b, cal.n, cal.prior, cal.brier_before, cal.brier_after, now)


def current(con: duckdb.DuckDBPyConnection) -> Calibration | None:
    """The latest stored calibration, or ``None`` before the first :func:`update`."""
    row = con.execute(
        "SELECT a, b, n, prior, brier_before, brier_after, fitted_at FROM success_calibration "
        "ORDER BY fitted_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    a, b, n, prior, before, after, at = row
    return Calibration(float(a), float(b), int(n), float(prior), float(before), float(after), at)


def reliability(df: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Predicted against realised success per probability bin (for the docs and the page).

    Parameters
    ----------
    df
        :func:`outcomes` frame (``p_model``, ``success``).
    bins
        Equal-count bins.

    Returns
    -------
    pandas.DataFrame
        ``bin, n, predicted, realised`` per bin.
    """
    if df.empty:
        return pd.DataFrame(columns=["bin", "n", "predicted", "realised"])
    q = pd.qcut(df["p_model"].rank(method="first"), min(bins, len(df)), labels=False)
    out = df.groupby(q).agg(
        n=("success", "size"), predicted=("p_model", "mean"), realised=("success", "mean")
    )
    return out.rename_axis("bin").reset_index()
