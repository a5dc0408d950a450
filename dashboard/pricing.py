"""Cached wrappers around the pricing engine for the 定价模拟 page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import auth, db
from engine.auth import Scope
from engine.pricing import data, elasticity, markdown, response, whatif

TRAIN_DAYS = 56  # the model learns from the last eight weeks
PERISHABLE_DAYS = 14  # shelf life up to which a SKU is offered in the clearance planner


@st.cache_resource(show_spinner=False, max_entries=4)
def model(version: str, days: int = TRAIN_DAYS) -> response.DemandModel:
    """The fitted demand model (one per data version; frozen, shared by sessions)."""
    cur = db.cursor()
    span = data.span_days(cur) or days
    return response.fit(cur, days=max(14, min(days, span)))


def model_info(version: str) -> dict:
    """Training window of the model (fits it on first use)."""
    m = model(version)
    return {"start": m.start.isoformat(), "end": m.end.isoformat()}


@st.cache_data(show_spinner=False)
def skus(version: str) -> pd.DataFrame:
    """SKU id, name, category, list price, cost and shelf life."""
    return data.catalogue(db.cursor())


def popular_skus(version: str) -> list[int]:
    """SKU ids, most popular first (mean expected demand at list price)."""
    m = model(version)
    return [int(s) for s in m.sku_ids[np.argsort(-m.eta0.mean(axis=0), kind="stable")]]


def perishable_skus(version: str) -> list[int]:
    """Popular SKUs with a short shelf life first, for the clearance planner."""
    life = skus(version).set_index("sku_id")["shelf_life_days"]
    pop = popular_skus(version)
    short = [s for s in pop if life.get(s, 999) <= PERISHABLE_DAYS]
    return short + [s for s in pop if s not in set(short)]


def sku_elasticity(version: str, sku_id: int) -> float:
    """The model's (shrunk) elasticity of one SKU."""
    m = model(version)
    return float(m.elasticity[m.sku_index([sku_id])[0]])


@auth.cache_scoped(show_spinner=False)
def communities(version: str, regions: tuple[int, ...], *, scope: Scope) -> pd.DataFrame:
    """Communities in ``regions`` (all when empty)."""
    df = data.communities(db.cursor(), scope)
    return df[df["region_id"].isin(regions)] if regions else df


@auth.cache_scoped(show_spinner=False, max_entries=64)
def curve(
    version: str,
    sku_id: int,
    community_ids: tuple[int, ...],
    threshold: int | None,
    coupon: float,
    lo: float,
    hi: float,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Price → units, GMV, margin and success probability, prices ``lo..hi`` × list."""
    m = model(version)
    lp = float(m.list_price[m.sku_index([sku_id])[0]])
    prices = np.round(lp * np.arange(lo, hi + 1e-9, 0.01), 2)
    return whatif.curve(m, sku_id, community_ids, prices, threshold, coupon, scope)


def curve_optimum(curve_df: pd.DataFrame, objective: str, target: float):
    """Best row of a curve meeting the success target, or ``None``."""
    return whatif.curve_optimum(curve_df, objective, target)


@auth.cache_scoped(show_spinner=False, max_entries=64)
def optimise(
    version: str,
    sku_id: int,
    community_ids: tuple[int, ...],
    settings: whatif.OptimiseSettings,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Best price and threshold per community."""
    return whatif.optimise(model(version), sku_id, community_ids, settings, scope)


def optimum_table(version: str, opt: pd.DataFrame) -> pd.DataFrame:
    """The optimiser's result with community names, in display order."""
    names = communities(version, ()).set_index("community_id")["name"]
    cols = [
        "community",
        "feasible",
        "price_now",
        "price",
        "threshold_now",
        "threshold",
        "p_success_now",
        "p_success",
        "margin_now",
        "margin",
        "gmv",
    ]
    return opt.assign(community=opt["community_id"].map(names))[cols]


@auth.cache_scoped(show_spinner=False, max_entries=64)
def simulate(
    version: str,
    sku_ids: tuple[int, ...],
    community_ids: tuple[int, ...],
    scenario: whatif.Scenario,
    *,
    scope: Scope,
) -> whatif.WhatIf:
    """A scenario against the current plan."""
    return whatif.simulate(model(version), sku_ids, community_ids, scenario, scope)


def scenario_record(
    name: str, change: int, threshold: int | None, coupon: float, n_skus: int, w: whatif.WhatIf
) -> dict:
    """One saved scenario: its settings and totals (kept in session state)."""
    tot = w.totals.set_index("metric")
    rec = {
        "name": name,
        "price_change": change / 100,
        "threshold": threshold,
        "coupon": coupon,
        "skus": n_skus,
    }
    for m in ("sold", "gmv", "margin", "commission", "p_success"):
        rec[m] = float(tot.at[m, "scenario"])
        rec[m + "_delta"] = float(tot.at[m, "delta"])
    return rec


def compare_scenarios(saved: list[dict]) -> pd.DataFrame:
    """Saved scenarios side by side."""
    return pd.DataFrame(saved)


def daily_demand(version: str, sku_id: int, community_ids: tuple[int, ...]) -> float:
    """Expected units a day at list price across the communities."""
    dem, _, _ = markdown.demand_for_sku(
        model(version), sku_id, 1, community_ids, scope=auth.scope()
    )
    return float(dem[0, 0])


@auth.cache_scoped(show_spinner=False, max_entries=32)
def clearance(
    version: str,
    sku_id: int,
    community_ids: tuple[int, ...],
    on_hand: int,
    days: int,
    salvage: float,
    *,
    scope: Scope,
) -> markdown.MarkdownPlan:
    """The markdown plan for near-expiry stock of one SKU."""
    dem, price, alpha = markdown.demand_for_sku(
        model(version), sku_id, days, community_ids, scope=scope
    )
    return markdown.plan(on_hand, days, price, dem, dispersion=alpha, salvage=salvage)


GROUPINGS = ("category", "sku", "community_type", *data.SEGMENT_COLUMNS)


@st.cache_data(show_spinner=False, max_entries=16)
def elasticities(version: str, by: str = "category") -> pd.DataFrame:
    """Elasticities with confidence intervals by category, SKU, community type or segment."""
    m = model(version)
    if by == "category":
        return m.categories
    if by == "sku":
        names = skus(version).set_index("sku_id")["name"]
        out = m.skus.assign(sku=m.skus["sku_id"].map(names))
        return out[["sku", "category", "elasticity", "raw", "ci_low", "ci_high", "n_campaigns"]]
    days = (m.end - m.start).days + 1
    cur = db.cursor()
    if by == "community_type":
        return elasticity.estimate(cur, "community_type", m.end, days)
    segs = data.user_segments(cur, by)
    return elasticity.estimate(cur, "segment", m.end, days, segments=segs)
