"""Build Linli's demo world into a DuckDB file (or an in-memory database).

Usage::

    python -m data.generate --scale {small,demo,large} --seed N --db PATH [--force]

The world is deterministic for a seed and writes its planted truth to ``truth_*`` tables.
docs/demo-world.md lists every planted effect and its magnitude.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from data import population, simulate, world
from engine import afterload
from engine import db as dbmod

GENERATOR_VERSION = "1"
EXPLORATION_STREAM = 18  # second seed word of the price-exploration generator
# The exploring twins' range (tests, bench.decisions): price tests from 0.6 to 1.3 × list.
PRICE_TESTS = (0.6, 1.3)
Progress = Callable[[str, float], None]


def _quiet(stage: str, frac: float) -> None:
    return None


def generate(
    target: str | Path | duckdb.DuckDBPyConnection = ":memory:",
    scale: str = "small",
    seed: int = 7,
    end: date = world.DEFAULT_END,
    progress: Progress | None = None,
    price_exploration: tuple[float, float] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Generate a world and load it into a database.

    Parameters
    ----------
    target
        A path, ``":memory:"``, or an open connection with an empty Linli schema.
    scale
        ``small``, ``demo`` or ``large``.
    seed
        Random seed; the same seed gives identical tables.
    end
        Last simulated day (the world's "as of" date).
    progress
        Called with (stage name, fraction done in 0..1).
    price_exploration
        ``(low, high)`` fractions of list price: every past listing is priced at a uniform
        random fraction in that range (a platform that ran price tests), so the history covers
        prices above list as well. Off (``None``) by default; then the world is exactly the
        default one. The prices come from their own generator, so the population and weather
        stay those of the same seed without exploration.

    Returns
    -------
    duckdb.DuckDBPyConnection
        The connection holding the world.

    Raises
    ------
    ValueError
        For an unknown scale or a ``price_exploration`` that is not ``0 < low <= high``.
    engine.forecasting.calendar.CoverageError
        When the world's days lie outside the published holiday calendar.
    """
    if scale not in world.SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(world.SCALES)}")
    explore = None
    if price_exploration is not None:
        e_lo, e_hi = (float(v) for v in price_exploration)
        if not 0 < e_lo <= e_hi:
            raise ValueError(f"price_exploration needs 0 < low <= high, got {price_exploration}")
        explore = (e_lo, e_hi, np.random.default_rng([seed, EXPLORATION_STREAM]))
    report = progress or _quiet
    sc = world.SCALES[scale]
    con = target if isinstance(target, duckdb.DuckDBPyConnection) else dbmod.connect(target)
    rng = np.random.default_rng(seed)
    dates = world.date_range(end, sc.days)
    world.check_calendar(dates[0], dates[-1])

    report("population", 0.0)
    pop = population.build(rng, sc, dates)
    weather = simulate.weather(rng, dates)
    cats = list(world.CATEGORY_BASE)
    fx = simulate.effects(dates, pop.skus, cats, weather["tmax_c"].to_numpy())
    sim = simulate.run(rng, pop, dates, fx, sc, lambda i, n: report("days", i / n), explore)
    report("orders", 0.0)
    campaigns, orders, items, truth_demand = _settle(rng, pop, dates, sim)
    inventory = _inventory(rng, pop, dates, items, orders)
    browse = _browse(rng, pop, campaigns, truth_demand, fx, dates)
    feedback = _feedback(rng, orders, dates)
    report("loading", 0.0)

    tables = {
        "regions": pop.regions,
        "warehouses": pop.warehouses,
        "communities": pop.communities,
        "leaders": pop.leaders,
        "pickup_points": pop.pickup_points,
        "vehicles": pop.vehicles,
        "suppliers": pop.suppliers,
        "skus": pop.skus,
        "users": pop.users.assign(phone=_phones(seed, pop.users["user_id"].to_numpy())),
        "campaigns": campaigns,
        "orders": orders.drop(columns=["persona", "day"]),
        "order_items": items,
        "browse_events": browse,
        "inventory": inventory,
        "chat_activity": sim.chat,
        "topics": sim.topics,
        "weather": weather,
        "calendar": world.calendar(dates[0], dates[-1]),
        "feedback": feedback,
        "devices": pop.devices,
    }
    for i, (name, df) in enumerate(tables.items()):
        _load(con, name, df)
        report("loading", (i + 1) / len(tables))
    _truth(con, pop, dates, items, orders, truth_demand, campaigns)
    _telemetry(con, pop, dates, seed)
    meta = {
        "scale": scale,
        "seed": str(seed),
        "start": dates[0].isoformat(),
        "generator": GENERATOR_VERSION,
        "city": world.CITY,
    }
    if explore is not None:  # only exploring worlds say so: the default meta stays as it was
        meta["price_exploration"] = f"{explore[0]:g}-{explore[1]:g}"
    con.execute("DELETE FROM meta")
    con.execute(
        "INSERT INTO meta SELECT * FROM (SELECT unnest(?::VARCHAR[]) AS key, "
        "unnest(?::VARCHAR[]) AS value)",
        [list(meta), list(meta.values())],
    )
    report("rollups", 0.0)
    afterload.rebuild(con)  # the rollups, and as_of = the last order day
    report("done", 1.0)
    return con


def _phones(seed: int, user_ids: np.ndarray) -> list[str]:
    """Mobile numbers (1[3-9]x xxxx xxxx) hashed from seed and user id, not drawn from ``rng``.

    Drawing them would shift every later draw; hashing leaves the rest of the world as it was.
    """
    h = (user_ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(seed * 40503 + 1)) % (
        np.uint64(7 * 10**9)
    )
    return [f"1{3 + int(v) // 10**9}{int(v) % 10**9:09d}" for v in h]


def _load(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    con.register("_load_df", df)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _load_df")  # table: fixed names
    finally:
        con.unregister("_load_df")


def _settle(rng, pop, dates, sim):
    """Cancellations, stock-limit censoring, group success, refunds and timestamps."""
    camp = sim.campaigns
    o = sim.orders
    li = sim.lines
    n_days = len(dates)
    adopt = int(n_days * world.ADOPTION_AT)
    cancelled = rng.random(len(o)) < 0.015
    o_cancel = pd.Series(cancelled, index=o["order_id"].to_numpy())
    li_cancel = o_cancel.reindex(li["order_id"].to_numpy()).to_numpy()
    minute = pd.Series(o["minute"].to_numpy(), index=o["order_id"].to_numpy())
    li_min = minute.reindex(li["order_id"].to_numpy()).to_numpy()

    # Demand before censoring, per campaign (cancelled orders excluded).
    live = ~li_cancel
    cid = li["campaign_id"].to_numpy()
    qty = li["qty"].to_numpy().astype(np.int64)
    first_camp = camp["campaign_id"].iloc[0]
    n_camp = len(camp)
    demand = np.bincount(cid[live] - first_camp, weights=qty[live], minlength=n_camp)
    limit = camp["stock_limit"].to_numpy()
    # Censor: orders served first come first; later lines get what is left.
    srt = np.lexsort((li["order_id"].to_numpy(), li_min, cid))
    q_s = np.where(live[srt], qty[srt], 0)
    c_s = cid[srt]
    cum = np.cumsum(q_s)
    start_idx = np.searchsorted(c_s, c_s, side="left")
    before = cum - q_s - np.where(start_idx > 0, cum[start_idx - 1], 0)
    lim_s = limit[c_s - first_camp]
    kept_s = np.where(lim_s < 0, q_s, np.clip(lim_s - before, 0, q_s))
    kept = np.empty_like(kept_s)
    kept[srt] = kept_s
    drop = live & (kept == 0)
    li = li.assign(qty=np.where(live, kept, qty).astype(np.int32))
    li = li[~drop].reset_index(drop=True)
    li_cancel = li_cancel[~drop]
    units = np.bincount(
        li["campaign_id"].to_numpy()[~li_cancel] - first_camp,
        weights=li["qty"].to_numpy()[~li_cancel],
        minlength=n_camp,
    )
    # Orders that lost every line to a sell-out never happened.
    o = o[o["order_id"].isin(li["order_id"].unique())].reset_index(drop=True)
    cancelled = o_cancel.reindex(o["order_id"].to_numpy()).to_numpy()

    camp = camp.assign(
        units=units.astype(np.int32),
        sold_out=(limit >= 0) & (demand >= limit),
        success=units >= camp["threshold"].to_numpy(),
        stock_limit=pd.array(np.where(limit >= 0, limit, 0), dtype="Int32"),
    )
    camp.loc[limit < 0, "stock_limit"] = pd.NA
    truth_demand = pd.DataFrame(
        {
            "campaign_id": camp["campaign_id"],
            "expected_units": camp["expected_units"],
            "demand_units": demand.astype(np.int32),
        }
    )
    camp = camp.drop(columns=["expected_units"])

    # Refunds: failed groups refund every line; a few quality/missing refunds.
    success = camp["success"].to_numpy()[li["campaign_id"].to_numpy() - first_camp]
    o_day = pd.Series(o["day"].to_numpy(), index=o["order_id"].to_numpy())
    li_day = o_day.reindex(li["order_id"].to_numpy()).to_numpy()
    refund_qty = np.zeros(len(li), dtype=np.int32)
    reason = np.full(len(li), None, dtype=object)
    failed = ~success & ~li_cancel
    refund_qty[failed] = li["qty"].to_numpy()[failed]
    reason[failed] = "group_failed"
    p_q = np.where(li_day < adopt, 0.025, 0.006)
    qual = (~failed) & (~li_cancel) & (rng.random(len(li)) < p_q)
    refund_qty[qual] = 1
    reason[qual] = rng.choice(["quality", "missing"], qual.sum(), p=[0.7, 0.3])
    whole = (~cancelled) & (rng.random(len(o)) < 0.004)
    whole_ids = set(o["order_id"].to_numpy()[whole])
    in_whole = li["order_id"].isin(whole_ids).to_numpy() & ~li_cancel
    refund_qty[in_whole] = li["qty"].to_numpy()[in_whole]
    reason[in_whole & (reason == None)] = "quality"  # noqa: E711 - elementwise on object array
    li = li.assign(refund_qty=refund_qty, refund_reason=reason)
    all_ref = li.assign(full=li["refund_qty"] >= li["qty"]).groupby("order_id")["full"].all()
    status = np.where(
        cancelled,
        "cancelled",
        np.where(all_ref.reindex(o["order_id"]).to_numpy(), "refunded", "paid"),
    )

    # Timestamps.
    start = pd.Timestamp(dates[0])
    day = o["day"].to_numpy()
    cidx = o["community_idx"].to_numpy()
    pp = pop.pickup_points
    w_start = pp["window_start"].to_numpy()[cidx]
    w_end = pp["window_end"].to_numpy()[cidx]
    # Arrival at the pickup point is one draw per community and day.
    n_c = len(pp)
    key = day.astype(np.int64) * n_c + cidx
    uniq, inv = np.unique(key, return_inverse=True)
    u_day = uniq // n_c
    frac = np.where(u_day < adopt, rng.uniform(0, 1.25, len(uniq)), rng.uniform(0, 0.6, len(uniq)))
    late = rng.random(len(uniq)) < np.where(u_day < adopt, 0.06, 0.015)
    span = w_end - w_start
    arrive = (
        w_start + frac[inv] * span + np.where(late[inv], rng.uniform(30, 150, len(uniq))[inv], 0)
    )
    base = start + pd.to_timedelta(day, unit="D")
    created = (
        base
        + pd.to_timedelta(o["minute"].to_numpy(), unit="m")
        + pd.to_timedelta(rng.integers(0, 60, len(o)), unit="s")
    )
    next_day = base + pd.Timedelta(days=1)
    delivered = next_day + pd.to_timedelta(np.round(arrive), unit="m")
    wait = np.minimum(
        rng.exponential(np.where(day < adopt, 150, 100)), np.maximum(1350 - arrive, 5)
    )
    picked = delivered + pd.to_timedelta(np.round(wait), unit="m")
    never = rng.random(len(o)) < 0.01
    is_cancel = status == "cancelled"
    users_idx = o["user_idx"].to_numpy()
    ref = o["ref_idx"].to_numpy()
    orders = pd.DataFrame(
        {
            "order_id": o["order_id"].astype(np.int64),
            "user_id": (users_idx + 1).astype(np.int32),
            "community_id": (cidx + 1).astype(np.int32),
            "pickup_id": pp["pickup_id"].to_numpy()[cidx],
            "order_date": [dates[d] for d in day],
            "created_at": created,
            "promised_by": next_day + pd.to_timedelta(w_end, unit="m"),
            "delivered_at": pd.Series(delivered).where(~is_cancel),
            "picked_up_at": pd.Series(picked).where(~is_cancel & ~never),
            "status": status,
            "ref_user_id": pd.array(np.where(ref >= 0, ref + 1, 0), dtype="Int32"),
            "coupon": np.where(rng.random(len(o)) < 0.04, rng.choice([2.0, 3.0, 5.0], len(o)), 0.0),
        }
    )
    orders.loc[ref < 0, "ref_user_id"] = pd.NA
    orders["persona"] = o["persona"].to_numpy()
    orders["day"] = day
    return camp, orders, li, truth_demand


def _inventory(rng, pop, dates, items, orders) -> pd.DataFrame:
    """Daily stock per warehouse and SKU from demand and the era's buying policy."""
    n_days = len(dates)
    adopt = int(n_days * world.ADOPTION_AT)
    skus = pop.skus
    n_s = len(skus)
    n_w = len(pop.warehouses)
    wh_of_c = pop.communities["warehouse_id"].to_numpy() - 1
    o_idx = pd.Series(np.arange(len(orders)), index=orders["order_id"].to_numpy())
    row = o_idx.reindex(items["order_id"].to_numpy()).to_numpy()
    ok = (orders["status"].to_numpy()[row] != "cancelled") & (
        items["refund_reason"].to_numpy() != "group_failed"
    )
    d = orders["day"].to_numpy()[row][ok]
    w = wh_of_c[orders["community_id"].to_numpy()[row][ok] - 1]
    s = items["sku_id"].to_numpy()[ok] - 1
    demand = np.zeros((n_days, n_w, n_s))
    np.add.at(demand, (d, w, s), items["qty"].to_numpy()[ok])
    shelf = skus["shelf_life_days"].to_numpy()
    perish = shelf <= 14
    spoil = np.where(perish, np.minimum(1.0, 0.8 / shelf), 0.002)
    pack = skus["pack_size"].to_numpy()
    on_hand = np.ceil(demand[:7].mean(axis=0) * np.where(perish, 0.3, 8))
    out = []
    for t in range(n_days):
        dem = demand[t]
        ma = demand[max(0, t - 7) : t + 1].mean(axis=0)
        era = "before" if t < adopt else "after"
        lo, hi = world.OVERBUY[era]
        over = rng.uniform(lo, hi, dem.shape)
        if era == "before":
            rec_p = np.ceil(ma * over)
        else:
            rec_p = np.ceil(np.maximum(dem - on_hand, 0) * over)
        cover = on_hand / np.maximum(ma, 1e-9)
        low, high = (5, 12) if era == "before" else (3, 7)
        rec_a = np.where(cover < low, np.ceil(np.maximum(ma * high - on_hand, 0) / pack) * pack, 0)
        rec = np.where(perish[None, :], rec_p, rec_a)
        rec = np.maximum(rec, dem - on_hand)  # emergency top-up: presold orders are always served
        left = on_hand + rec - dem
        waste = rng.binomial(left.astype(np.int64), np.broadcast_to(spoil, left.shape))
        on_hand = left - waste
        wi, si = np.nonzero((rec > 0) | (dem > 0) | (on_hand > 0) | (waste > 0))
        out.append(
            pd.DataFrame(
                {
                    "stock_date": dates[t],
                    "warehouse_id": (wi + 1).astype(np.int32),
                    "sku_id": (si + 1).astype(np.int32),
                    "received": rec[wi, si].astype(np.int32),
                    "sold": dem[wi, si].astype(np.int32),
                    "wasted": waste[wi, si].astype(np.int32),
                    "on_hand": on_hand[wi, si].astype(np.int32),
                    "in_transit": np.int32(0),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def _browse(rng, pop, campaigns, truth_demand, fx, dates) -> pd.DataFrame:
    """Views and add-to-carts per listed SKU per community and day."""
    n_s = len(pop.skus)
    inv_cvr = rng.uniform(6, 14, n_s)
    day_idx = {d: i for i, d in enumerate(dates)}
    di = campaigns["sale_date"].map(day_idx).to_numpy()
    si = campaigns["sku_id"].to_numpy() - 1
    users_c = np.bincount(pop.users["community_id"].to_numpy() - 1)
    ci = campaigns["community_id"].to_numpy() - 1
    lam = (
        truth_demand["demand_units"].to_numpy() * inv_cvr[si] * fx.view_lift[di, si]
        + 1.5 * users_c[ci] / 100
    )
    views = rng.poisson(lam)
    carts = rng.binomial(views, 0.12) + truth_demand["demand_units"].to_numpy() // 2
    return pd.DataFrame(
        {
            "event_date": campaigns["sale_date"],
            "community_id": campaigns["community_id"],
            "sku_id": campaigns["sku_id"],
            "views": views.astype(np.int32),
            "carts": carts.astype(np.int32),
        }
    )


def _feedback(rng, orders, dates) -> pd.DataFrame:
    """Ratings and NPS answers on a sample of orders; better after adoption, worse when late."""
    adopt = int(len(dates) * world.ADOPTION_AT)
    cand = orders[orders["status"] != "cancelled"]
    pick = cand[rng.random(len(cand)) < 0.06]
    after = pick["day"].to_numpy() >= adopt
    late = (pick["delivered_at"] > pick["promised_by"]).to_numpy()
    p_pro = np.where(after, 0.93, 0.62) - late * 0.3
    p_det = np.where(after, 0.01, 0.18) + late * 0.3
    r = rng.random(len(pick))
    nps = np.where(
        r < p_pro,
        rng.integers(9, 11, len(pick)),
        np.where(r < p_pro + p_det, rng.integers(0, 7, len(pick)), rng.integers(7, 9, len(pick))),
    )
    rating = np.where(nps >= 9, 5, np.where(nps >= 7, 4, np.clip(nps // 2, 1, 3)))
    complaint = np.where(
        nps <= 6,
        np.where(
            late, "late", rng.choice(["quality", "missing", "price"], len(pick), p=[0.5, 0.2, 0.3])
        ),
        np.full(len(pick), None, dtype=object),
    )
    fdate = [d + timedelta(days=1) for d in pick["order_date"]]
    return pd.DataFrame(
        {
            "feedback_id": np.arange(1, len(pick) + 1, dtype=np.int64),
            "order_id": pick["order_id"].to_numpy(),
            "user_id": pick["user_id"].to_numpy(),
            "community_id": pick["community_id"].to_numpy(),
            "feedback_date": [min(f, dates[-1]) for f in fdate],
            "rating": rating.astype(np.int32),
            "nps": nps.astype(np.int32),
            "complaint": complaint,
        }
    )


def _truth(con, pop, dates, items, orders, truth_demand, campaigns) -> None:
    """Write the planted truth tables (read only by tests and benchmarks)."""
    n_u = len(pop.users)
    churn_date = [
        dates[e]
        if 0 <= e < len(dates)
        else (dates[-1] + timedelta(days=int(e - len(dates) + 1)) if e < 10**5 else None)
        for e in pop.end_day
    ]
    persona_df = pd.DataFrame(
        {
            "user_id": np.arange(1, n_u + 1, dtype=np.int32),
            "persona": np.array(world.PERSONAS)[pop.persona],
            "is_koc": pop.koc,
            "churn_date": churn_date,
        }
    )
    tag_rows = []
    for tag, arr in (
        ("has_kids", pop.kids),
        ("elderly", pop.elderly),
        ("fitness", pop.fitness),
        ("pet", pop.pet),
        ("imported", pop.persona == 0),
    ):
        ids = np.flatnonzero(arr) + 1
        tag_rows.append(pd.DataFrame({"user_id": ids.astype(np.int32), "tag": tag}))
    # Population elasticity: category value × the unit-weighted mean persona multiplier.
    o_persona = pd.Series(orders["persona"].to_numpy(), index=orders["order_id"].to_numpy())
    lp = o_persona.reindex(items["order_id"].to_numpy()).to_numpy()
    mult = np.array([world.PERSONA_ELASTICITY[p] for p in world.PERSONAS])
    cats = list(world.CATEGORY_BASE)
    sku_cat = pop.skus["category"].to_numpy()[items["sku_id"].to_numpy() - 1]
    el_rows = []
    for c in cats:
        m = sku_cat == c
        w = np.bincount(lp[m], weights=items["qty"].to_numpy()[m], minlength=len(mult))
        avg = float((w * mult).sum() / max(w.sum(), 1))
        el_rows.append((c, "all", world.ELASTICITY[c] * avg))
        for p, mm in zip(world.PERSONAS, mult, strict=True):
            el_rows.append((c, p, world.ELASTICITY[c] * mm))
    names = pop.skus["name"].tolist()
    n_days = len(dates)
    t0 = dates[n_days - world.TREND_TOPIC_DAYS_BEFORE_END]
    effects = [("weekday", str(i), v) for i, v in enumerate(world.WEEKDAY)]
    effects += [("heat_lift_per_degC_over_30", c, v) for c, v in world.HEAT_LIFT.items()]
    for fest, (before, factor, mult_c) in world.FESTIVALS.items():
        effects.append((f"festival_rate:{fest}", f"{before}_days_before", factor))
        effects += [(f"festival_category:{fest}", c, v) for c, v in mult_c.items()]
    effects.append(("spring_festival_holiday_rate", "all", world.SPRING_FESTIVAL_HOLIDAY_RATE))
    effects.append(("adoption_day_index", "all", float(int(n_days * world.ADOPTION_AT))))
    effects.append(("annual_amplitude", "all", world.ANNUAL_AMPLITUDE))
    truth = {
        "truth_user_persona": persona_df,
        "truth_user_tags": pd.concat(tag_rows, ignore_index=True),
        "truth_elasticity": pd.DataFrame(el_rows, columns=["category", "persona", "elasticity"]),
        "truth_affinity": pd.DataFrame(
            [(names.index(a) + 1, names.index(b) + 1, p) for a, b, p in world.AFFINITIES],
            columns=["antecedent_sku", "consequent_sku", "confidence"],
        ),
        "truth_category_mix": pd.DataFrame(
            [
                (t, c, world.CATEGORY_BASE[c] * world.TYPE_MIX[t].get(c, 1.0))
                for t in world.COMMUNITY_TYPES
                for c in cats
            ],
            columns=["type", "category", "weight"],
        ),
        "truth_trend": pd.DataFrame(
            [
                (
                    world.TREND_KEYWORD,
                    t0,
                    t0 + timedelta(days=world.TREND_DEMAND_LAG),
                    names.index(s) + 1,
                    world.TREND_DEMAND_LIFT,
                )
                for s in world.TREND_SKUS
            ],
            columns=["keyword", "topic_start", "demand_start", "sku_id", "lift"],
        ),
        "truth_effects": pd.DataFrame(effects, columns=["effect", "key", "value"]),
        "truth_campaign_demand": truth_demand,
    }
    for name, df in truth.items():
        con.register("_truth_df", df)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _truth_df")  # fixed names
        con.unregister("_truth_df")
    con.execute(
        "CREATE TABLE IF NOT EXISTS truth_device_faults (device_id VARCHAR, "
        "fault VARCHAR, start_ts TIMESTAMP, end_ts TIMESTAMP)"
    )


def _telemetry(con, pop, dates, seed: int) -> None:
    """Two days of cold-chain history (5-minute readings) with planted faults and alarms."""
    from data import telemetry  # the same physics as the live simulator
    from engine.coldchain import store

    end = datetime.combine(dates[-1] + timedelta(days=1), datetime.min.time())
    tele, faults = telemetry.history(pop.devices, end - timedelta(days=2), end, seed, step_s=300)
    _load(con, "telemetry", tele)
    con.register("_faults", faults)
    con.execute(
        "INSERT INTO truth_device_faults SELECT device_id, fault, start_ts, end_ts FROM _faults"
    )
    con.unregister("_faults")
    # The alarms those faults imply, by event time (the live engine follows arrival time).
    store.history_alarms(con)


def _bar(stage: str, frac: float, _state={"last": ""}) -> None:  # noqa: B006 - call-local cache
    line = f"\r{stage:<11} [{'#' * int(frac * 30):<30}] {int(frac * 100):3d}%"
    if _state["last"] and not _state["last"].startswith(f"\r{stage:<11}"):
        sys.stderr.write("\n")
    if line != _state["last"]:
        sys.stderr.write(line)
        sys.stderr.flush()
        _state["last"] = line
    if stage == "done":
        sys.stderr.write("\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    ap = argparse.ArgumentParser(prog="python -m data.generate", description=__doc__.split("\n")[1])
    ap.add_argument("--scale", choices=list(world.SCALES), default="demo")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", default=str(dbmod.db_path()), help="target DuckDB file (LINLI_DB)")
    ap.add_argument("--end", default=world.DEFAULT_END.isoformat(), help="last simulated day, ISO")
    ap.add_argument("--force", action="store_true", help="overwrite an existing file")
    ap.add_argument(
        "--price-exploration",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="price past listings at random fractions of list in [LOW, HIGH] (price tests)",
    )
    args = ap.parse_args(argv)
    path = Path(args.db)
    if path.exists() and not args.force:
        print(f"{path} already exists; add --force to replace it.", file=sys.stderr)
        return 2
    if path.exists():
        try:  # fail early and clearly when a running app holds the file
            dbmod.connect(path).close()
        except dbmod.DatabaseError as exc:
            if isinstance(exc, dbmod.DatabaseLocked):
                print(str(exc), file=sys.stderr)
                return 3
    tmp = path.with_name(path.name + ".building")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con = generate(
        tmp,
        args.scale,
        args.seed,
        date.fromisoformat(args.end),
        progress=_bar,
        price_exploration=tuple(args.price_exploration) if args.price_exploration else None,
    )
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]  # fixed names
        for t in ("communities", "users", "orders", "order_items", "campaigns")
    }
    con.close()
    os.replace(tmp, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    took = time.perf_counter() - t0
    print(f"Built {args.scale} world (seed {args.seed}) in {took:.1f} s → {path}")
    print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["datetime", "generate", "main"]
