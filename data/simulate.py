"""Simulate the selling days: listings, campaigns, orders and order lines, chat, topics.

One vectorised step per day: every community's listing is drawn at once (Gumbel top-k),
every user's decision to order at once, every ordering user's basket at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from data import world
from data.population import Population

DISCOUNTS = np.array([1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6])
DISCOUNT_P = np.array([0.3, 0.12, 0.14, 0.12, 0.12, 0.08, 0.08, 0.04])
QTY_MEAN = 1.35  # mean units per line used by the planner's expectation


@dataclass
class DayEffects:
    """Per-day planted effects."""

    rate: np.ndarray  # order-rate factor per day
    cat_lift: np.ndarray  # [day, category] demand multiplier (festival × heat)
    listing_lift: np.ndarray  # [day, sku] listing-weight multiplier (seasonal SKUs, trend)
    trend_lift: np.ndarray  # [day, sku] demand multiplier of trending SKUs
    view_lift: np.ndarray  # [day, sku] browsing multiplier of trending SKUs
    tmax: np.ndarray


def weather(rng: np.random.Generator, dates: list[date]) -> pd.DataFrame:
    """Daily weather for the city: seasonal temperature with AR(1) noise and rain."""
    n = len(dates)
    doy = np.array([d.timetuple().tm_yday for d in dates])
    noise = np.zeros(n)
    eps = rng.normal(0, 1.6, n)
    for i in range(1, n):
        noise[i] = 0.7 * noise[i - 1] + eps[i]
    tmax = 21.5 + 13.0 * np.sin(2 * np.pi * (doy - 110) / 365) + noise
    tmin = tmax - rng.uniform(5, 9, n)
    wet = rng.random(n) < 0.28 + 0.15 * np.sin(2 * np.pi * (doy - 60) / 365)
    precip = np.where(wet, rng.exponential(9, n), 0.0)
    cond = np.where(
        precip > 15,
        "大雨",
        np.where(
            precip > 0,
            np.where(tmax < 3, "雪", "小雨"),
            rng.choice(["晴", "多云", "阴"], n, p=[0.45, 0.35, 0.2]),
        ),
    )
    return pd.DataFrame(
        {
            "weather_date": dates,
            "city": world.CITY,
            "tmax_c": np.round(tmax, 1),
            "tmin_c": np.round(tmin, 1),
            "precip_mm": np.round(precip, 1),
            "condition": cond,
        }
    )


def effects(dates: list[date], skus: pd.DataFrame, cats: list[str], tmax: np.ndarray) -> DayEffects:
    """Compute the planted day-level effects (weekly, annual, festivals, heat, trend)."""
    n = len(dates)
    cal = world.calendar(dates[0], dates[-1])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    wd = np.array([d.weekday() for d in dates])
    rate = np.array(world.WEEKDAY)[wd] * (
        1 + world.ANNUAL_AMPLITUDE * np.cos(2 * np.pi * (doy - 355) / 365)
    )
    cat_lift = np.ones((n, len(cats)))
    firsts = world.festival_first_days()
    day_index = {d: i for i, d in enumerate(dates)}
    for fest, (before, factor, mult) in world.FESTIVALS.items():
        for first in firsts.get(fest, []):
            for k in range(1, before + 1):
                i = day_index.get(first - pd.Timedelta(days=k).to_pytimedelta())
                if i is not None:
                    rate[i] *= factor
                    for c, m in mult.items():
                        cat_lift[i, cats.index(c)] *= m
    sf = (cal["holiday"] == "春节").to_numpy()
    rate[sf] *= world.SPRING_FESTIVAL_HOLIDAY_RATE
    for c, per_deg in world.HEAT_LIFT.items():
        cat_lift[:, cats.index(c)] *= 1 + per_deg * np.clip(tmax - 30, 0, None)

    n_s = len(skus)
    listing = np.ones((n, n_s))
    names = skus["name"].tolist()
    for name, fest in world.SEASONAL_SKUS.items():
        if name not in names:
            continue
        j = names.index(name)
        listing[:, j] = 0.02
        for first in firsts.get(fest, []):
            for k in range(0, 15):
                i = day_index.get(first - pd.Timedelta(days=k).to_pytimedelta())
                if i is not None:
                    listing[i, j] = 30.0
    trend = np.ones((n, n_s))
    view = np.ones((n, n_s))
    t0 = n - world.TREND_TOPIC_DAYS_BEFORE_END
    td = t0 + world.TREND_DEMAND_LAG
    ramp_d = np.clip((np.arange(n) - td) / world.TREND_RAMP_DAYS, 0, 1)
    ramp_v = np.clip((np.arange(n) - t0) / 7, 0, 1)
    for name in world.TREND_SKUS:
        j = names.index(name)
        trend[:, j] = 1 + (world.TREND_DEMAND_LIFT - 1) * ramp_d
        view[:, j] = 1 + 1.8 * ramp_v
        listing[:, j] *= 1 + 2 * ramp_v
    return DayEffects(rate, cat_lift, listing, trend, view, tmax)


@dataclass
class Simulation:
    """Raw simulated arrays (before censoring and refunds)."""

    campaigns: pd.DataFrame
    orders: pd.DataFrame
    lines: pd.DataFrame
    chat: pd.DataFrame
    topics: pd.DataFrame


def run(
    rng: np.random.Generator,
    pop: Population,
    dates: list[date],
    fx: DayEffects,
    scale: world.Scale,
    progress: Callable[[int, int], None] | None = None,
    exploration: tuple[float, float, np.random.Generator] | None = None,
) -> Simulation:
    """Simulate every day: listings, campaigns, orders and lines, chat and topic mentions.

    Parameters
    ----------
    rng
        The world's random generator.
    pop
        Static population.
    dates
        Simulated days.
    fx
        Planted day effects.
    scale
        World size (for the listing length).
    progress
        Called with (day index, number of days).
    exploration
        ``(low, high, generator)``: price every listing at a uniform random fraction of list
        price in ``[low, high]`` drawn from ``generator`` (a platform running price tests)
        instead of the usual discounts. The discounts are still drawn from ``rng`` (the
        draws before the first orders stay the default world's).

    Returns
    -------
    Simulation
        Raw frames.
    """
    n_days = len(dates)
    skus = pop.skus
    cats = list(world.CATEGORY_BASE)
    cat_idx = skus["category"].map(cats.index).to_numpy()
    n_s = len(skus)
    names = skus["name"].tolist()
    list_price = skus["list_price"].to_numpy()
    unit_cost = skus["unit_cost"].to_numpy()
    tags = skus["tags"].tolist()

    def has(tag: str) -> np.ndarray:
        return np.array([tag in t for t in tags])

    t_kids, t_soft, t_pet, t_fit, t_imp = (
        has("kids"),
        has("soft_food"),
        has("pet"),
        has("fitness"),
        has("imported"),
    )
    c_type = pop.communities["type"].map(world.COMMUNITY_TYPES.index).to_numpy()
    n_c = len(c_type)
    # Static log-weights: type × category preference × SKU popularity.
    type_cat = np.ones((len(world.COMMUNITY_TYPES), len(cats)))
    for ti, t in enumerate(world.COMMUNITY_TYPES):
        for ci, c in enumerate(cats):
            type_cat[ti, ci] = world.CATEGORY_BASE[c] * world.TYPE_MIX[t].get(c, 1.0)
    cat_med = skus.groupby("category")["list_price"].transform("median").to_numpy()
    pop_w = rng.lognormal(0, 0.5, n_s) * (list_price / cat_med) ** -0.5
    cat_count = np.bincount(cat_idx, minlength=len(cats))
    log_tw = np.log(type_cat[:, cat_idx] / cat_count[cat_idx] * pop_w)  # [type, sku]
    persona_cat = np.ones((len(world.PERSONAS), len(cats)))
    for pi, p in enumerate(world.PERSONAS):
        for c, m in world.PERSONA_MIX.get(p, {}).items():
            persona_cat[pi, cats.index(c)] = m
    log_pc = np.log(persona_cat[:, cat_idx])  # [persona, sku]
    elast = np.array([world.ELASTICITY[c] for c in cats])[cat_idx]
    p_mult = np.array([world.PERSONA_ELASTICITY[p] for p in world.PERSONAS])
    p_rate = np.array([world.PERSONA_RATE[p] for p in world.PERSONAS])
    p_lines = np.array([world.PERSONA_LINES[p] for p in world.PERSONAS])
    p_qty = np.array([world.PERSONA_QTY[p] for p in world.PERSONAS])
    anchors = np.array([names.index(a) for a in world.ANCHORS])
    aff = [(names.index(a), names.index(b), pr) for a, b, pr in world.AFFINITIES]
    k_list = scale.listings
    launch_day = np.array([(d - dates[0]).days for d in skus["launched"]])
    adopt_day = int(n_days * world.ADOPTION_AT)

    u_comm = pop.users["community_id"].to_numpy() - 1
    n_u = len(u_comm)
    persona = pop.persona
    # KOCs per community (CSR) for referral attribution.
    koc_idx = np.flatnonzero(pop.koc)
    koc_comm = u_comm[koc_idx]
    koc_start = np.searchsorted(koc_comm, np.arange(n_c))
    koc_cnt = np.bincount(koc_comm, minlength=n_c)
    users_per_c = np.bincount(u_comm, minlength=n_c)

    camp_parts, order_parts, line_parts, chat_parts, topic_parts = [], [], [], [], []
    next_order = 1
    next_camp = 1
    kw = list(world.TOPIC_KEYWORDS)
    kw_base = np.array([world.TOPIC_KEYWORDS[k] for k in kw])
    t0 = n_days - world.TREND_TOPIC_DAYS_BEFORE_END
    fest_days = world.festival_first_days()
    for d in range(n_days):
        day = dates[d]
        open_c = np.flatnonzero(pop.opened_day <= d)
        # --- listings: Gumbel top-k per community, anchors and affinity partners forced.
        keys = log_tw[c_type[open_c]] + np.log(fx.listing_lift[d])[None, :]
        keys = keys + rng.gumbel(size=keys.shape)
        keys[:, launch_day > d] = -np.inf  # nothing is sold before its launch date
        force = rng.random((len(open_c), len(anchors))) < 0.9
        keys[:, anchors] = np.where(force, np.inf, keys[:, anchors])
        top = np.argpartition(-keys, k_list - 1, axis=1)[:, :k_list]
        order_k = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
        lst = np.take_along_axis(top, order_k, axis=1)  # [open_c, K] SKU indices, best first
        for j, (a, b, _) in enumerate(aff):
            need = (lst == a).any(axis=1) & ~(lst == b).any(axis=1) & (launch_day[b] <= d)
            lst[need, k_list - 1 - j] = b
        disc = rng.choice(DISCOUNTS, size=lst.shape, p=DISCOUNT_P)
        if exploration is not None:
            e_lo, e_hi, e_rng = exploration
            disc = np.round(e_rng.uniform(e_lo, e_hi, lst.shape), 2)
        price = np.round(list_price[lst] * disc, 1)
        camp_ids = next_camp + np.arange(lst.size).reshape(lst.shape)
        next_camp += lst.size

        # --- who orders today
        active = (pop.signup_day <= d) & (pop.end_day > d) & (pop.opened_day[u_comm] <= d)
        fade = np.where(persona == 3, np.clip((pop.end_day - d) / 45.0, 0, 1), 1.0)
        rate = (
            p_rate[persona]
            * pop.activity
            * fade
            * fx.rate[d]
            * np.where(pop.koc, 1.2, 1.0)
            * active
        )
        # Planner's expectation of units per campaign (community-level, persona-agnostic).
        exp_lines = np.bincount(u_comm, weights=rate * (1 + p_lines[persona]), minlength=n_c)
        pos = np.full(n_c, -1)
        pos[open_c] = np.arange(len(open_c))
        base_lw = (
            log_tw[c_type[open_c][:, None], lst]
            + np.log(fx.cat_lift[d, cat_idx[lst]])
            + np.log(fx.trend_lift[d, lst])
        )
        w_ref = np.exp(base_lw)
        w_act = np.exp(base_lw + elast[lst] * np.log(disc))
        share_act = w_act / w_act.sum(axis=1, keepdims=True)
        share_ref = w_ref / (w_act.sum(axis=1, keepdims=True) - w_act + w_ref)
        e_act = exp_lines[open_c][:, None] * share_act * QTY_MEAN
        e_ref = exp_lines[open_c][:, None] * share_ref * QTY_MEAN
        era = "before" if d < adopt_day else "after"
        lo, hi = world.THRESHOLD_FACTOR[era]
        thr = np.maximum(1, np.round(rng.uniform(lo, hi, lst.shape) * e_ref**0.75)).astype(np.int32)
        limited = rng.random(lst.shape) < 0.12
        limit = np.where(
            limited, np.maximum(1, np.round(e_act * rng.uniform(0.6, 1.1, lst.shape))), -1
        )
        camp_parts.append(
            pd.DataFrame(
                {
                    "campaign_id": camp_ids.ravel(),
                    "community_id": np.repeat(open_c + 1, lst.shape[1]).astype(np.int32),
                    "sku_id": (lst.ravel() + 1).astype(np.int32),
                    "sale_date": day,
                    "price": price.ravel(),
                    "list_price": list_price[lst].ravel(),
                    "threshold": thr.ravel(),
                    "stock_limit": limit.ravel().astype(np.int64),
                    "expected_units": e_act.ravel(),
                }
            )
        )

        buyers = np.flatnonzero(rng.random(n_u) < rate)
        n_o = len(buyers)
        if n_o:
            bc = u_comm[buyers]
            bp = persona[buyers]
            row = pos[bc]
            blst = lst[row]  # [n_o, K]
            logw = (
                log_tw[c_type[bc]][np.arange(n_o)[:, None], blst]
                + log_pc[bp][np.arange(n_o)[:, None], blst]
                + np.log(fx.cat_lift[d, cat_idx[blst]])
                + np.log(fx.trend_lift[d, blst])
                + elast[blst] * p_mult[bp][:, None] * np.log(disc[row])
            )
            logw += np.where(
                t_kids[blst], np.where(pop.kids[buyers][:, None], np.log(2.5), np.log(0.4)), 0
            )
            logw += np.where(t_soft[blst] & pop.elderly[buyers][:, None], np.log(2.2), 0)
            logw += np.where(
                t_pet[blst], np.where(pop.pet[buyers][:, None], np.log(4.0), np.log(0.05)), 0
            )
            logw += np.where(t_fit[blst] & pop.fitness[buyers][:, None], np.log(2.5), 0)
            logw += np.where(t_imp[blst] & (bp == 0)[:, None], np.log(1.5), 0)
            n_lines = np.minimum(1 + rng.poisson(p_lines[bp]), k_list)
            keys_o = logw + rng.gumbel(size=logw.shape)
            rank = np.argsort(np.argsort(-keys_o, axis=1), axis=1)
            chosen = rank < n_lines[:, None]
            for a, b, pr in aff:
                has_a = (chosen & (blst == a)).any(axis=1)
                has_b = (chosen & (blst == b)).any(axis=1)
                add = has_a & ~has_b & (rng.random(n_o) < pr)
                chosen |= add[:, None] & (blst == b)
            oi, slot = np.nonzero(chosen)
            order_ids = next_order + np.arange(n_o)
            next_order += n_o
            qty = 1 + rng.poisson(p_qty[bp[oi]])
            sku = blst[oi, slot]
            line_parts.append(
                pd.DataFrame(
                    {
                        "order_id": order_ids[oi].astype(np.int64),
                        "sku_id": (sku + 1).astype(np.int32),
                        "campaign_id": camp_ids[row[oi], slot].astype(np.int64),
                        "qty": qty.astype(np.int32),
                        "unit_price": price[row[oi], slot],
                        "list_price": list_price[sku],
                        "unit_cost": unit_cost[sku],
                    }
                )
            )
            # Time of ordering, minutes of the day (peaks at lunch and in the evening).
            part = rng.choice(3, n_o, p=[0.1, 0.2, 0.7])
            minute = np.where(
                part == 0,
                rng.integers(420, 540, n_o),
                np.where(part == 1, rng.integers(660, 810, n_o), rng.integers(1080, 1380, n_o)),
            )
            # Referral: some orders come through a KOC's shared link in the same community.
            ref = np.full(n_o, -1)
            via = (rng.random(n_o) < world.KOC_REFERRAL) & (koc_cnt[bc] > 0)
            pick = koc_start[bc[via]] + (rng.random(via.sum()) * koc_cnt[bc[via]]).astype(int)
            ref[via] = koc_idx[pick]
            self_ref = ref == buyers
            ref[self_ref] = -1
            other = (~via) & (rng.random(n_o) < 0.03)
            ref[other] = np.searchsorted(u_comm, bc[other]) + (
                rng.random(other.sum()) * users_per_c[bc[other]]
            ).astype(int)
            ref[ref == buyers] = -1
            order_parts.append(
                pd.DataFrame(
                    {
                        "order_id": order_ids.astype(np.int64),
                        "user_idx": buyers.astype(np.int32),
                        "community_idx": bc.astype(np.int32),
                        "day": np.int32(d),
                        "minute": minute.astype(np.int32),
                        "ref_idx": ref.astype(np.int32),
                        "persona": bp.astype(np.int8),
                    }
                )
            )

        # --- chat activity (sparse): KOCs and chatty users talk a lot, others rarely.
        p_chat = np.where(pop.koc, 0.6, np.where(pop.chatty, 0.4, 0.03)) * active
        talk = np.flatnonzero(rng.random(n_u) < p_chat)
        if len(talk):
            kt = pop.koc[talk]
            ct = pop.chatty[talk]
            chat_parts.append(
                pd.DataFrame(
                    {
                        "activity_date": day,
                        "user_id": (talk + 1).astype(np.int32),
                        "community_id": (u_comm[talk] + 1).astype(np.int32),
                        "messages": (1 + rng.poisson(np.where(kt, 7, np.where(ct, 6, 1.5)))).astype(
                            np.int32
                        ),
                        "replies_received": rng.poisson(
                            np.where(kt, 6, np.where(ct, 1.2, 0.4))
                        ).astype(np.int32),
                        "shares": rng.poisson(np.where(kt, 1.6, np.where(ct, 0.3, 0.05))).astype(
                            np.int32
                        ),
                    }
                )
            )
        # --- topic mentions per community and keyword
        act_c = np.bincount(u_comm, weights=active, minlength=n_c)[open_c]
        lam = act_c[:, None] / 100.0 * kw_base[None, :]
        j_trend = kw.index(world.TREND_KEYWORD)
        lam[:, j_trend] *= 1 + (world.TREND_TOPIC_LIFT - 1) * np.clip((d - t0) / 7, 0, 1)
        for key, fest in (("月饼", "中秋节"), ("年货", "春节")):
            if any(0 <= (f - day).days <= 20 for f in fest_days.get(fest, [])):
                lam[:, kw.index(key)] *= 6
        if fx.tmax[d] > 32:
            lam[:, kw.index("防暑降温")] *= 3
        mentions = rng.poisson(lam)
        mc, mk = np.nonzero(mentions)
        topic_parts.append(
            pd.DataFrame(
                {
                    "topic_date": day,
                    "community_id": (open_c[mc] + 1).astype(np.int32),
                    "keyword": np.array(kw)[mk],
                    "mentions": mentions[mc, mk].astype(np.int32),
                }
            )
        )
        if progress:
            progress(d + 1, n_days)

    return Simulation(
        pd.concat(camp_parts, ignore_index=True),
        pd.concat(order_parts, ignore_index=True),
        pd.concat(line_parts, ignore_index=True),
        pd.concat(chat_parts, ignore_index=True),
        pd.concat(topic_parts, ignore_index=True),
    )
