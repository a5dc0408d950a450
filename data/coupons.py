"""Plant a coupon effect into a generated world, for a trial issued by ``engine.coupons``.

Off unless called: :func:`data.generate.generate` never calls it, so default worlds stay as
they were. Given a trial in the database (coupon and hold-out arms drawn by the engine), each
coupon-arm user places one *extra* paid order in the coupon window with probability
``effect``, carrying the coupon's code and discount. The planted effect on paid orders per user
(coupon arm minus hold-out) is therefore exactly ``effect`` in expectation.

Redemption is not uplift: with probability ``cannibal`` a coupon-arm user also redeems the
code on the first order they would have placed anyway. Those orders change no count, so a
measurement that credits redemptions instead of comparing with the hold-out overstates the effect.

The truth is written to ``truth_coupon_effect (trial_id, metric, value)``.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import afterload


def plant(
    con: duckdb.DuckDBPyConnection,
    trial_id: str,
    effect: float,
    *,
    cannibal: float = 0.3,
    seed: int = 0,
) -> int:
    """Add the extra orders of a planted coupon effect; returns how many were added.

    Parameters
    ----------
    con
        A generated world holding the trial (``coupon_trials``, ``coupons``).
    trial_id
        The trial.
    effect
        Probability in [0, 1] that a coupon-arm user places one extra order in the window.
    cannibal
        Probability in [0, 1] that a coupon-arm user's first existing order in the window
        carries the code (redeemed, but no extra order).
    seed
        Random seed.

    Returns
    -------
    int
        Extra orders written.

    Raises
    ------
    ValueError
        For an unknown trial, probabilities outside [0, 1], or a window with no order days.
    """
    for name, v in (("effect", effect), ("cannibal", cannibal)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {v}")
    row = con.execute(
        "SELECT issued_on, expires_on FROM coupon_trials WHERE trial_id = ?", [trial_id]
    ).fetchone()
    if row is None:
        raise ValueError(f"no coupon trial {trial_id!r}")
    last = (con.execute("SELECT max(order_date) FROM orders").fetchone() or (None,))[0]
    if last is None:
        raise ValueError("the world holds no orders")
    start, end = row[0], min(row[1], last)
    if end < start:
        raise ValueError(f"the world's orders end on {last}, before the trial starts on {start}")
    rng = np.random.default_rng(seed)
    arm = con.execute(
        "SELECT c.user_id, c.code, c.value, u.community_id, "
        "(SELECT min(pickup_id) FROM pickup_points p WHERE p.community_id = u.community_id) "
        "AS pickup_id FROM coupons c JOIN users u USING (user_id) "
        "WHERE c.trial_id = ? AND c.arm = 'coupon' ORDER BY c.user_id",
        [trial_id],
    ).df()
    days = (end - start).days + 1
    extra = arm[rng.random(len(arm)) < effect].reset_index(drop=True)
    cannib = arm[rng.random(len(arm)) < cannibal]
    first_id = int(
        (con.execute("SELECT coalesce(max(order_id), 0) FROM orders").fetchone() or (0,))[0]
    )
    day = [start + timedelta(days=int(d)) for d in rng.integers(0, days, len(extra))]
    minute = rng.integers(7 * 60, 22 * 60, len(extra))
    created = pd.to_datetime(pd.Series(day)) + pd.to_timedelta(minute, unit="m")
    base = pd.to_datetime(pd.Series(day))
    orders = pd.DataFrame(
        {
            "order_id": np.arange(first_id + 1, first_id + 1 + len(extra), dtype=np.int64),
            "user_id": extra["user_id"].astype(np.int32),
            "community_id": extra["community_id"].astype(np.int32),
            "pickup_id": extra["pickup_id"].astype(np.int32),
            "order_date": day,
            "created_at": created,
            "promised_by": base + pd.Timedelta(hours=41),
            "delivered_at": base + pd.Timedelta(hours=38),
            "picked_up_at": base + pd.Timedelta(hours=40),
            "status": "paid",
            "coupon": extra["value"].astype(float),
            "coupon_code": extra["code"],
        }
    )
    items = _items(con, orders, rng)
    con.register("_cp_orders", orders)
    con.register("_cp_items", items)
    con.register("_cp_cannib", cannib[["user_id", "code", "value"]])
    try:
        con.execute("INSERT INTO orders BY NAME SELECT * FROM _cp_orders")
        con.execute("INSERT INTO order_items BY NAME SELECT * FROM _cp_items")
        # The first pre-existing order in the window of each cannibalising user.
        con.execute(
            "UPDATE orders SET coupon_code = k.code, coupon = k.value FROM ("
            "SELECT c.code, c.value, min(o.order_id) AS order_id FROM _cp_cannib c "
            "JOIN orders o USING (user_id) WHERE o.status = 'paid' AND o.coupon_code IS NULL "
            "AND o.order_date BETWEEN ? AND ? AND o.order_id <= ? GROUP BY ALL) k "
            "WHERE orders.order_id = k.order_id",
            [start, end, first_id],
        )
    finally:
        for name in ("_cp_orders", "_cp_items", "_cp_cannib"):
            con.unregister(name)
    con.execute(
        "CREATE TABLE IF NOT EXISTS truth_coupon_effect "
        "(trial_id VARCHAR, metric VARCHAR, value DOUBLE)"
    )
    con.execute("DELETE FROM truth_coupon_effect WHERE trial_id = ?", [trial_id])
    con.execute(
        "INSERT INTO truth_coupon_effect VALUES (?, 'orders_per_user', ?)", [trial_id, effect]
    )
    afterload.rebuild(con)
    return len(orders)


def _items(con: duckdb.DuckDBPyConnection, orders: pd.DataFrame, rng) -> pd.DataFrame:
    """One line per extra order: a group running in the user's community that day (else any SKU)."""
    camp = con.execute(
        "SELECT g.community_id, g.sale_date, g.campaign_id, g.sku_id, g.price, g.list_price, "
        "s.unit_cost FROM campaigns g JOIN skus s USING (sku_id)"
    ).df()
    skus = con.execute("SELECT sku_id, list_price, unit_cost FROM skus ORDER BY sku_id").df()
    groups = {k: g for k, g in camp.groupby(["community_id", "sale_date"])}
    rows = []
    for oid, cid, day in zip(
        orders["order_id"], orders["community_id"], orders["order_date"], strict=True
    ):
        g = groups.get((cid, pd.Timestamp(day)))
        if g is None:
            g = groups.get((cid, day))
        if g is not None and len(g):
            r = g.iloc[int(rng.integers(len(g)))]
            rows.append((oid, r.sku_id, r.campaign_id, r.price, r.list_price, r.unit_cost))
        else:
            r = skus.iloc[int(rng.integers(len(skus)))]
            rows.append((oid, r.sku_id, None, r.list_price, r.list_price, r.unit_cost))
    df = pd.DataFrame(
        rows, columns=["order_id", "sku_id", "campaign_id", "unit_price", "list_price", "unit_cost"]
    )
    return df.assign(qty=1, refund_qty=0)
