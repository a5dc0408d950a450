"""Redemption and uplift of a coupon trial against its randomised hold-out.

Outcome per user: paid orders (and net spend) from the issue day to the expiry day, or to the
last order day loaded if earlier. Because the arms were drawn at random, the difference of the
arm means estimates the coupon's causal effect; its interval is Welch's (normal approximation,
unequal variances). Orders per user are also adjusted for each user's paid orders in the window
of the same length just before the issue day (CUPED: ``y - θ (x - x̄)`` with θ the pooled
regression slope), which removes the part of the spread that history already explains and so
narrows the interval without moving its centre in expectation. A before/after comparison of the coupon arm alone is not an estimate of
the effect (churn-risk users drift down by themselves) and is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from engine.auth import ALL, Scope


class NotMeasurableError(ValueError):
    """The trial cannot be measured yet (unknown, or no orders loaded in its window)."""


@dataclass(frozen=True)
class Effect:
    """A difference of arm means with its confidence interval."""

    coupon: float  # mean in the coupon arm
    holdout: float  # mean in the hold-out
    uplift: float  # coupon - holdout
    low: float
    high: float


@dataclass(frozen=True)
class Uplift:
    """A trial's measured outcome."""

    trial_id: str
    start: date
    end: date  # last day counted
    complete: bool  # the window ran to expiry in the loaded data
    n_coupon: int
    n_holdout: int
    redeemed: int  # coupon-arm users with a paid order carrying their code
    redemption_rate: float
    orders: Effect  # paid orders per user
    orders_cuped: Effect  # the same, adjusted for orders before the issue day
    buyers: Effect  # share of users with at least one paid order
    spend: Effect  # net spend per user, yuan
    level: float


def welch(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> Effect:
    """Difference of means ``a - b`` with Welch's normal-approximation interval.

    Parameters
    ----------
    a, b
        Outcomes of the two arms (at least 2 each).
    level
        Confidence level in (0, 1).

    Returns
    -------
    Effect
        Means, difference and interval.

    Raises
    ------
    ValueError
        For an arm with fewer than 2 values or a level outside (0, 1).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each arm needs at least 2 users to estimate a variance")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a.mean() - b.mean()
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return Effect(float(a.mean()), float(b.mean()), float(diff), diff - z * se, diff + z * se)


def outcomes(con: duckdb.DuckDBPyConnection, trial_id: str, scope: Scope = ALL) -> pd.DataFrame:
    """Per trial user: arm, code, paid orders and net spend in the window, and redemption.

    Parameters
    ----------
    con
        An open connection.
    trial_id
        The trial.
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``user_id, community_id, arm, code, value, orders, spend, redeemed, pre_orders``
        (paid orders in the same-length window before the issue day).

    Raises
    ------
    NotMeasurableError
        For an unknown trial.
    """
    row = con.execute(
        "SELECT issued_on, expires_on FROM coupon_trials WHERE trial_id = ?", [trial_id]
    ).fetchone()
    if row is None:
        raise NotMeasurableError(f"no coupon trial {trial_id!r}")
    start, end = row
    df = con.execute(
        "WITH o AS (SELECT o.order_id, o.user_id, o.coupon_code, "
        "coalesce(sum((i.qty - i.refund_qty) * i.unit_price), 0) - o.coupon AS spend "
        "FROM orders o LEFT JOIN order_items i USING (order_id) WHERE o.status = 'paid' "
        "AND o.order_date BETWEEN ? AND ? GROUP BY o.order_id, o.user_id, o.coupon_code, o.coupon) "
        "SELECT c.user_id, u.community_id, c.arm, c.code, c.value, "
        "count(o.order_id) AS orders, coalesce(sum(o.spend), 0.0) AS spend, "
        "coalesce(bool_or(o.coupon_code = c.code), false) AS redeemed "
        "FROM coupons c JOIN users u USING (user_id) LEFT JOIN o USING (user_id) "
        "WHERE c.trial_id = ? GROUP BY ALL ORDER BY c.user_id",
        [start, end, trial_id],
    ).df()
    days = (end - start).days + 1
    pre = con.execute(
        "SELECT user_id, count(*) AS pre_orders FROM orders WHERE status = 'paid' "
        "AND order_date BETWEEN ? AND ? AND user_id IN "
        "(SELECT user_id FROM coupons WHERE trial_id = ?) GROUP BY 1",
        [start - timedelta(days=days), start - timedelta(days=1), trial_id],
    ).df()
    df = df.merge(pre, on="user_id", how="left")
    df["pre_orders"] = df["pre_orders"].fillna(0).astype(int)
    return scope.keep(con, df).reset_index(drop=True)


def cuped(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``y - θ (x - x̄)`` with ``θ = cov(x, y) / var(x)`` (``y`` unchanged when ``x`` is constant).

    Parameters
    ----------
    y
        Outcomes of all users of both arms.
    x
        A pre-treatment covariate of the same users.

    Returns
    -------
    numpy.ndarray
        Adjusted outcomes.
    """
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    vx = x.var()
    if len(x) < 2 or vx == 0:
        return y
    theta = float(np.cov(x, y, ddof=0)[0, 1] / vx)
    return y - theta * (x - x.mean())


def measure(
    con: duckdb.DuckDBPyConnection, trial_id: str, *, level: float = 0.95, scope: Scope = ALL
) -> Uplift:
    """Redemption and the coupon's effect on orders, buyers and spend, with intervals.

    Parameters
    ----------
    con
        An open connection.
    trial_id
        The trial.
    level
        Confidence level of the intervals.
    scope
        Row scope of the caller (the estimate covers the trial's users inside it).

    Returns
    -------
    Uplift
        The measured outcome; ``complete`` is False while the loaded orders end before expiry.

    Raises
    ------
    NotMeasurableError
        For an unknown trial, no order loaded on or after the issue day, or an arm with fewer
        than 2 users inside the scope.
    """
    start, end = con.execute(
        "SELECT issued_on, expires_on FROM coupon_trials WHERE trial_id = ?", [trial_id]
    ).fetchone() or (None, None)
    if start is None:
        raise NotMeasurableError(f"no coupon trial {trial_id!r}")
    last = (con.execute("SELECT max(order_date) FROM orders").fetchone() or (None,))[0]
    if last is None or last < start:
        raise NotMeasurableError(
            f"no orders loaded on or after {start} (the issue day): load the orders of the "
            "coupon window, then measure"
        )
    df = outcomes(con, trial_id, scope)
    cpn, hold = df[df["arm"] == "coupon"], df[df["arm"] == "holdout"]
    if len(cpn) < 2 or len(hold) < 2:
        raise NotMeasurableError("each arm needs at least 2 users inside your scope")
    redeemed = int(cpn["redeemed"].sum())
    adj = cuped(df["orders"].to_numpy(), df["pre_orders"].to_numpy())
    is_c = (df["arm"] == "coupon").to_numpy()
    return Uplift(
        trial_id,
        start,
        min(end, last),
        last >= end,
        len(cpn),
        len(hold),
        redeemed,
        redeemed / len(cpn),
        welch(cpn["orders"].to_numpy(), hold["orders"].to_numpy(), level),
        welch(adj[is_c], adj[~is_c & (df["arm"] == "holdout").to_numpy()], level),
        welch((cpn["orders"] > 0).to_numpy(), (hold["orders"] > 0).to_numpy(), level),
        welch(cpn["spend"].to_numpy(), hold["spend"].to_numpy(), level),
        level,
    )


def table(u: Uplift) -> pd.DataFrame:
    """The effects of an :class:`Uplift` as rows (metric, coupon, holdout, uplift, low, high)."""
    rows = [("orders", u.orders), ("orders_cuped", u.orders_cuped), ("buyers", u.buyers)]
    rows.append(("spend", u.spend))
    return pd.DataFrame([{"metric": m, **vars(e)} for m, e in rows])
