"""Clearance markdowns for near-expiry stock: the day-by-day discount path by dynamic programming.

State: units on hand ``q`` and the discount in force (discounts never go back up, as shoppers
and leaders expect). Each day ``t`` the planner picks a discount ``d >= current``; demand is
negative binomial with mean ``demand[t, d]``; ``min(demand, q)`` units sell at
``price × (1 - d)``; stock left at expiry is worth ``salvage`` per unit. Backward induction
gives the policy maximising expected recovered value; forward propagation of the stock
distribution gives the expected path and lets any policy (no markdown, a fixed 30 % off) be
valued on any demand curve, for example the planted one.

What to clear comes from the data (:func:`near_expiry`): the stock on hand of each warehouse
and SKU is split into lots by its receipt dates, first in first out (the oldest units sold
first, so what is left is the newest receipts), and each lot expires ``shelf_life_days`` after
it arrived. Its demand (:func:`where_listed`) counts only the communities where the SKU is
actually listed and that the stock's warehouse serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import signal, stats

from engine.auth import ALL, Scope
from engine.pricing import response

DISCOUNTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
MAX_STOCK = 20_000


@dataclass(frozen=True)
class MarkdownPlan:
    """Optimal policy, its expected path and value, and the fixed policies' values."""

    path: pd.DataFrame  # day, discount (most likely state), mean discount, stock, sales, revenue
    value: float  # expected recovered value of the optimal policy
    baselines: pd.DataFrame  # policy, value (no markdown, fixed 30 % off, optimal)
    policy: np.ndarray  # [days, on_hand + 1, n_discounts] -> discount index
    discounts: tuple[float, ...]


def constant_elasticity(
    base: float | Sequence[float], elasticity: float, discounts: Sequence[float], days: int
) -> np.ndarray:
    """Daily demand ``base × (1 - d) ** elasticity`` as a [days, discounts] array.

    Parameters
    ----------
    base
        Expected units a day at full price (scalar or one per day).
    elasticity
        Price elasticity (negative).
    discounts
        Discount levels in [0, 1).
    days
        Days to expiry.

    Returns
    -------
    numpy.ndarray
        Expected daily units per day and discount.
    """
    b = np.broadcast_to(np.asarray(base, dtype=float), (days,))
    d = np.asarray(discounts, dtype=float)
    return b[:, None] * (1 - d[None, :]) ** elasticity


def _pmf(mu: float, alpha: float, q_max: int) -> np.ndarray:
    """NB pmf on 0..q_max with the tail mass lumped into q_max."""
    r = 1.0 / max(alpha, 1e-6)
    u = np.arange(q_max + 1)
    pmf = stats.nbinom.pmf(u, r, r / (r + max(mu, 1e-12)))
    pmf[-1] += max(0.0, 1.0 - pmf.sum())
    return pmf


def _conv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full convolution; by FFT for large stock (direct is O(n²), 20 000 units = 4e8 steps)."""
    if len(a) * len(b) <= 250_000:
        return np.convolve(a, b)
    return signal.fftconvolve(a, b)


def _step(value_next: np.ndarray, mu: float, alpha: float, unit_price: float) -> np.ndarray:
    """Expected revenue today plus value tomorrow for every stock level, one discount."""
    q_max = len(value_next) - 1
    pmf = _pmf(mu, alpha, q_max)
    sf = 1.0 - np.concatenate([[0.0], np.cumsum(pmf)[:-1]])  # P(U >= u)
    # E[min(U, q)] = sum_{i<q} P(U > i)
    sold = np.concatenate([[0.0], np.cumsum(sf[1:])])
    conv = _conv(pmf, value_next)[: q_max + 1]  # sum_{u<=q} pmf(u) V(q - u)
    cont = conv - pmf * value_next[0] + sf * value_next[0]  # demand >= q empties the shelf
    return unit_price * sold + cont


def _values(demand, alpha, price, discounts, salvage, q, allowed):
    """Backward induction; ``allowed[jp, j]`` says which discounts may follow ``jp``."""
    days, n_d = demand.shape
    v = np.tile(salvage * np.arange(q + 1, dtype=float)[:, None], (1, n_d))  # [q, jp]
    policy = np.zeros((days, q + 1, n_d), dtype=np.int16)
    for t in range(days - 1, -1, -1):
        r = np.stack(
            [_step(v[:, j], demand[t, j], alpha, price * (1 - discounts[j])) for j in range(n_d)],
            axis=1,
        )  # [q, j]
        score = np.where(allowed[None, :, :], r[:, None, :], -np.inf)  # [q, jp, j]
        policy[t] = score.argmax(axis=2)
        v = np.take_along_axis(score, policy[t][:, :, None].astype(np.int64), axis=2)[:, :, 0]
    return v, policy


def evaluate(
    policy: np.ndarray,
    on_hand: int,
    price: float,
    demand: np.ndarray,
    discounts: Sequence[float] = DISCOUNTS,
    dispersion: float = 0.1,
    salvage: float = 0.0,
) -> tuple[float, pd.DataFrame]:
    """Value a policy on a demand curve by propagating the stock distribution forward.

    Parameters
    ----------
    policy
        [days, on_hand + 1, n_discounts] discount index per day, stock and previous discount.
    on_hand
        Units at the start.
    price
        Full price per unit.
    demand
        [days, n_discounts] expected daily units.
    discounts
        Discount levels matching the policy's indices.
    dispersion
        Negative-binomial ``alpha`` of daily demand.
    salvage
        Value per unit left at expiry.

    Returns
    -------
    tuple
        Expected recovered value and the expected path per day.
    """
    d = np.asarray(discounts, dtype=float)
    days, n_d = demand.shape
    dist = np.zeros((on_hand + 1, n_d))
    dist[on_hand, 0] = 1.0
    pmfs = {}
    rows, total = [], 0.0
    for t in range(days):
        new = np.zeros_like(dist)
        act = policy[t]
        stock = float((dist.sum(axis=1) * np.arange(on_hand + 1)).sum())
        mode_q = int(dist.sum(axis=1).argmax())
        mode_j = int(act[mode_q, int(dist[mode_q].argmax())])
        mean_d, sales, revenue = 0.0, 0.0, 0.0
        for j in range(n_d):
            mass = (dist * (act == j)).sum(axis=1)  # by stock, taking action j
            if mass.sum() <= 0:
                continue
            key = (t, j)
            if key not in pmfs:
                pmfs[key] = _pmf(demand[t, j], dispersion, on_hand)
            pmf = pmfs[key]
            sf = 1.0 - np.concatenate([[0.0], np.cumsum(pmf)[:-1]])
            sold = np.concatenate([[0.0], np.cumsum(sf[1:])])
            exp_sold = float((mass * sold).sum())
            sales += exp_sold
            revenue += exp_sold * price * (1 - d[j])
            mean_d += float(mass.sum()) * d[j]
            # Stock q -> q - u for u < q; the rest empties the shelf.
            # moved[q'] = sum_u pmf(u) mass(q' + u): a correlation, as a convolution
            moved = _conv(mass, pmf[::-1])[on_hand : 2 * on_hand + 1].copy()
            moved[0] = float((mass * sf).sum())
            new[:, j] += moved
        total += revenue
        rows.append((t + 1, d[mode_j], mean_d, stock, sales, revenue))
        dist = new
    left = float((dist.sum(axis=1) * np.arange(on_hand + 1)).sum())
    total += salvage * left
    path = pd.DataFrame(
        rows, columns=["day", "discount", "mean_discount", "stock", "sales", "revenue"]
    )
    return total, path.assign(left_at_expiry=left)


def fixed_policy(days: int, on_hand: int, discounts: Sequence[float], discount: float):
    """A policy that always applies ``discount`` (must be one of ``discounts``)."""
    j = int(np.argmin(np.abs(np.asarray(discounts) - discount)))
    if abs(discounts[j] - discount) > 1e-9:
        raise ValueError(f"discount {discount} is not among the levels {list(discounts)}")
    return np.full((days, on_hand + 1, len(discounts)), j, dtype=np.int16)


def plan(
    on_hand: int,
    days: int,
    price: float,
    demand: np.ndarray,
    discounts: Sequence[float] = DISCOUNTS,
    dispersion: float = 0.1,
    salvage: float = 0.0,
    monotone: bool = True,
) -> MarkdownPlan:
    """The discount path that maximises expected recovered value before expiry.

    Parameters
    ----------
    on_hand
        Units in stock (>= 0, at most :data:`MAX_STOCK`).
    days
        Selling days left before expiry (>= 1).
    price
        Full price per unit (> 0).
    demand
        [days, len(discounts)] expected daily units per discount, e.g. from
        :func:`constant_elasticity` or :func:`demand_for_sku`.
    discounts
        Discount levels in [0, 1), including 0 and 0.3 for the baselines.
    dispersion
        Negative-binomial ``alpha`` of daily demand.
    salvage
        Value per unit left at expiry (0 = thrown away).
    monotone
        Discounts never go back up.

    Returns
    -------
    MarkdownPlan
        Policy, expected path, value and the values of "no markdown" and "fixed 30 % off".

    Raises
    ------
    ValueError
        For non-positive price or days, negative or oversized stock, discounts outside
        [0, 1) or without 0 and 0.3, or a demand array of the wrong shape.
    """
    if price <= 0:
        raise ValueError("price must be positive")
    if days < 1:
        raise ValueError("days to expiry must be at least 1")
    if not 0 <= on_hand <= MAX_STOCK or int(on_hand) != on_hand:
        raise ValueError(f"on-hand stock must be an integer in 0..{MAX_STOCK}")
    d = tuple(float(x) for x in discounts)
    if any(not 0 <= x < 1 for x in d) or 0.0 not in d or 0.3 not in d:
        raise ValueError("discounts must lie in [0, 1) and include 0 and 0.3")
    dem = np.asarray(demand, dtype=float)
    if dem.shape != (days, len(d)) or (dem < 0).any():
        raise ValueError(f"demand must be a non-negative array of shape ({days}, {len(d)})")
    if salvage < 0:
        raise ValueError("salvage value must be non-negative")
    on_hand = int(on_hand)
    dd = np.asarray(d)
    allowed = (dd[None, :] >= dd[:, None]) if monotone else np.ones((len(d), len(d)), bool)
    _, policy = _values(dem, dispersion, price, dd, salvage, on_hand, allowed)
    value, path = evaluate(policy, on_hand, price, dem, d, dispersion, salvage)
    base = []
    for name, disc in (("no_markdown", 0.0), ("fixed_30", 0.3)):
        pol = fixed_policy(days, on_hand, d, disc)
        base.append((name, evaluate(pol, on_hand, price, dem, d, dispersion, salvage)[0]))
    base.append(("optimal", value))
    return MarkdownPlan(path, value, pd.DataFrame(base, columns=["policy", "value"]), policy, d)


def demand_for_sku(
    model: response.DemandModel,
    sku_id: int,
    days: int,
    community_ids: Sequence[int] | None = None,
    discounts: Sequence[float] = DISCOUNTS,
    scope: Scope = ALL,
) -> tuple[np.ndarray, float, float]:
    """Daily demand per discount for one SKU listed in the given communities every day.

    Parameters
    ----------
    model
        Fitted demand model.
    sku_id
        The SKU.
    days
        Days to expiry.
    community_ids
        Communities where the stock can be sold (default: all).
    discounts
        Discount levels.
    scope
        The caller's row scope; communities outside it are left out.

    Returns
    -------
    tuple
        ``(demand [days, discounts], list price, dispersion of the summed demand)``.

    Raises
    ------
    ValueError
        For an unknown SKU or community.
    """
    si = model.sku_index([sku_id])[0]
    ci = model.community_index(community_ids, scope)
    lp = float(model.list_price[si])
    d = np.asarray(discounts, dtype=float)
    prices = lp * (1 - d)
    mu = response.expected_units(
        model, model.sku_ids[si], model.community_ids[ci][:, None], prices[None, :]
    )  # [C, D]
    total = mu.sum(axis=0)
    # Var of a sum of independent NBs: sum(mu + a mu²) -> alpha of the sum.
    alpha = float(model.dispersion * (mu**2).sum(axis=0)[0] / max(total[0] ** 2, 1e-12))
    return np.tile(total, (days, 1)), lp, max(alpha, 1e-3)


_NEAR_EXPIRY = """
WITH oh AS (
    SELECT warehouse_id, sku_id, on_hand FROM inventory WHERE stock_date = ? AND on_hand > 0
),
lots AS (
    SELECT i.warehouse_id, i.sku_id, i.stock_date AS received_on, i.received,
           i.stock_date + s.shelf_life_days AS expires_on, oh.on_hand,
           coalesce(sum(i.received) OVER (
               PARTITION BY i.warehouse_id, i.sku_id ORDER BY i.stock_date DESC
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS newer
    FROM inventory i JOIN skus s USING (sku_id)
    JOIN oh ON oh.warehouse_id = i.warehouse_id AND oh.sku_id = i.sku_id
    WHERE i.received > 0 AND i.stock_date <= ? AND i.stock_date > ? - s.shelf_life_days
),
left_ AS (
    SELECT *, greatest(0, least(received, on_hand - newer)) AS units FROM lots
)
SELECT oh.warehouse_id, oh.sku_id, oh.on_hand,
       coalesce(sum(l.units), 0) AS dated,
       coalesce(sum(l.units) FILTER (WHERE l.expires_on <= ?), 0) AS expiring,
       min(l.expires_on) FILTER (WHERE l.units > 0) AS first_expiry
FROM oh LEFT JOIN left_ l ON l.warehouse_id = oh.warehouse_id AND l.sku_id = oh.sku_id
GROUP BY ALL
"""


def near_expiry(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    within_days: int = 3,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Stock on hand that expires within ``within_days`` days, per warehouse and SKU.

    Lots come from the receipt dates (``inventory.received``), first in first out; a lot
    expires ``shelf_life_days`` after its receipt. On-hand units that no receipt inside the
    shelf life explains (opening stock, or receipts not recorded) have no known age: they are
    counted in ``undated`` and never as expiring.

    Parameters
    ----------
    con
        Open Linli database.
    as_of
        The stock date (closing stock of that day).
    within_days
        Horizon: lots expiring on or before ``as_of + within_days`` count.
    scope
        The caller's row scope; warehouses outside it are left out.

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id, sku_id, name, category, list_price, on_hand, expiring, undated,
        first_expiry, days_left`` for pairs with expiring stock, soonest first.

    Raises
    ------
    ValueError
        When ``within_days`` < 0.
    """
    if within_days < 0:
        raise ValueError("within_days must be non-negative")
    horizon = as_of + timedelta(days=within_days)
    df = con.execute(_NEAR_EXPIRY, [as_of, as_of, as_of, horizon]).df()
    df = scope.keep(con, df, "warehouse_id")
    df = df[df["expiring"] > 0].copy()
    names = con.execute("SELECT sku_id, name, category, list_price FROM skus").df()
    df = df.merge(names, on="sku_id")
    df["undated"] = (df["on_hand"] - df["dated"]).clip(lower=0)
    first = pd.to_datetime(df["first_expiry"])
    df["days_left"] = ((first - pd.Timestamp(as_of)).dt.days).clip(lower=0).astype(int)
    cols = ["warehouse_id", "sku_id", "name", "category", "list_price", "on_hand", "expiring"]
    cols += ["undated", "first_expiry", "days_left"]
    return df.sort_values(["days_left", "expiring"], ascending=[True, False])[cols].reset_index(
        drop=True
    )


def where_listed(
    con: duckdb.DuckDBPyConnection,
    sku_id: int,
    end: date,
    days: int = 14,
    warehouse_id: int | None = None,
    scope: Scope = ALL,
) -> list[int]:
    """Communities where ``sku_id`` ran a group in the ``days`` up to ``end``.

    Parameters
    ----------
    con
        Open Linli database.
    sku_id
        The SKU.
    end
        Last day considered.
    days
        Look-back window.
    warehouse_id
        Only communities this warehouse serves (where its stock can go).
    scope
        The caller's row scope.

    Returns
    -------
    list of int
        Community ids, ascending (empty when the SKU is not listed anywhere).
    """
    ids = con.execute(
        "SELECT DISTINCT c.community_id FROM campaigns c JOIN communities m USING (community_id) "
        "WHERE c.sku_id = ? AND c.sale_date BETWEEN ? AND ? "
        "AND (?::INTEGER IS NULL OR m.warehouse_id = ?) ORDER BY 1",
        [int(sku_id), end - timedelta(days=days - 1), end, warehouse_id, warehouse_id],
    ).df()
    allowed = scope.communities(con)
    out = [int(c) for c in ids["community_id"]]
    return out if allowed is None else [c for c in out if c in set(allowed)]
