"""Cached wrappers around the segmentation engine for the Communities and Segments pages.

Every cached wrapper gets the session's row scope from ``auth.cache_scoped`` (as ``scope``, also
part of its cache key) and passes it to the engine, directly or through another wrapper.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import auth, db
from dashboard.i18n import t
from engine.auth import Scope
from engine.segmentation import churn, features, geo, koc, pipeline, profiles


def allowed_regions(requested: tuple[int, ...]) -> tuple[int, ...]:
    """The requested regions limited to the session's row scope (empty = all, if unscoped)."""
    return auth.scope().clip_regions(requested)


@st.cache_resource(show_spinner=False)
def _rollup(version: str) -> bool:
    """Build the per-user-day rollup once per data version if the file lacks it."""
    return features.ensure_rollup(db.cursor())


@auth.cache_scoped(show_spinner=False, max_entries=16)
def segmentation(
    version: str, as_of: date, regions: tuple[int, ...], *, scope: Scope
) -> pipeline.Segmentation:
    """Every user's persona, churn risk and tags as of a day (churn skipped if history is short)."""
    _rollup(version)
    cur = db.cursor()
    try:
        return pipeline.run(cur, as_of, regions=regions, scope=scope)
    except ValueError as exc:
        if "days of orders" not in str(exc) and "one outcome" not in str(exc):
            raise
        return pipeline.run(cur, as_of, regions=regions, with_churn=False, scope=scope)


@auth.cache_scoped(show_spinner=False, max_entries=32)
def summary(version: str, as_of: date, regions: tuple[int, ...], *, scope: Scope) -> pd.DataFrame:
    """Segment sizes, value and risk."""
    return pipeline.segment_summary(segmentation(version, as_of, regions))


@auth.cache_scoped(show_spinner=False, max_entries=32)
def trend(
    version: str, as_of: date, start: date, end: date, regions: tuple[int, ...], *, scope: Scope
) -> pd.DataFrame:
    """Weekly orders and buyers per current persona."""
    seg = segmentation(version, as_of, regions)
    return pipeline.persona_trend(db.cursor(), seg, start, end, scope)


@auth.cache_scoped(show_spinner=False, max_entries=32)
def offers(version: str, as_of: date, regions: tuple[int, ...], *, scope: Scope) -> pd.DataFrame:
    """High-value users at risk with a retention coupon."""
    seg = segmentation(version, as_of, regions)
    if "churn_prob" not in seg.users:
        return pd.DataFrame()
    return churn.retention_offers(seg.users)


@auth.cache_scoped(show_spinner=False, max_entries=32)
def community_table(
    version: str, start: date, end: date, regions: tuple[int, ...], *, scope: Scope
) -> profiles.CommunityTable:
    """Per-community metrics and category mix of the period."""
    return profiles.community_table(db.cursor(), start, end, regions, scope)


@auth.cache_scoped(show_spinner=False, max_entries=32)
def kocs(
    version: str, start: date, end: date, regions: tuple[int, ...], *, scope: Scope
) -> pd.DataFrame:
    """KOC ranking of the period."""
    return koc.rank(db.cursor(), start, end, regions, scope=scope)


@auth.cache_scoped(show_spinner=False, max_entries=64)
def profile(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    community_id: int,
    *,
    scope: Scope,
) -> profiles.CommunityProfile:
    """One community's profile from the cached tables."""
    table = community_table(version, start, end, regions)
    seg = segmentation(version, end, regions)
    return profiles.profile(
        table,
        community_id,
        seg.users[["user_id", "persona"]],
        seg.tags,
        kocs(version, start, end, regions),
        seg.users[["user_id", "community_id"]],
    )


@auth.cache_scoped(show_spinner=False, max_entries=32)
def density(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    selected: tuple[int, ...],
    resolution: int = 8,
    *,
    scope: Scope,
) -> geo.MapData:
    """H3 cells of orders and buyers, pickup points and warehouses."""
    return geo.density(db.cursor(), start, end, regions, selected, resolution, scope)


@auth.cache_scoped(show_spinner=False, max_entries=64)
def risk_table(
    version: str, as_of: date, regions: tuple[int, ...], min_prob: float, lang: str, *, scope: Scope
) -> pd.DataFrame:
    """Users at or above a churn probability, with persona, drivers and reason in ``lang``."""
    users = segmentation(version, as_of, regions).users
    risk = users[users["churn_prob"] >= min_prob].sort_values("churn_prob", ascending=False)
    persona = {p: t("persona_" + p) for p in risk["persona"].unique()}
    drv = {d: t("drv_" + d) for d in churn.DRIVERS}
    names = risk[["driver_1", "driver_2", "driver_3"]].apply(lambda c: c.map(drv))
    sep = "、" if lang == "zh" else ", "
    drivers = names.apply(lambda r: sep.join(x for x in r if isinstance(x, str)), axis=1)
    risk = risk.assign(
        persona_label=risk["persona"].map(persona),
        reason=[reason_text(r) for _, r in risk.iterrows()],
        drivers=drivers if len(risk) else "",
    )
    cols = ["user_id", "community_id", "persona_label", "churn_prob", "drivers", "reason"]
    cols += ["recency_days", "frequency", "monetary", "rfm"]
    return risk[cols].reset_index(drop=True)


def reason_text(row: pd.Series) -> str:
    """A persona's reason in the current language, citing the user's own numbers."""

    def num(x: float, d: int = 0) -> str:
        return "—" if pd.isna(x) else f"{x:,.{d}f}"

    return t(
        row["reason_key"],
        tenure=num(row.get("tenure_days")),
        recency=num(row.get("recency_days")),
        interval=num(row.get("interval_days"), 1),
        trend=num(row.get("trend"), 2),
        lines=num(row.get("lines_per_order"), 1),
        basket=num(row.get("basket_value")),
        depth=num(100 * row.get("discount_depth", float("nan")), 0),
    )


@auth.cache_scoped(show_spinner=False, max_entries=32)
def compare(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    ids: tuple[int, ...],
    *,
    scope: Scope,
) -> pd.DataFrame:
    """2–4 communities side by side."""
    return profiles.compare(community_table(version, start, end, regions), ids)


COMPARE_UNITS = {
    "households": "count",
    "active_buyers": "count",
    "penetration": "pct",
    "gmv": "money",
    "gmv_per_household": "money1",
    "paid_orders": "count",
    "aov": "money1",
    "avg_unit_price": "money1",
    "price_band": "band",
    "group_success_rate": "pct",
    "on_time_rate": "pct",
    "pickup_hours": "hours",
    "nps": "score",
    "commission": "money",
    "top_categories": "text",
}


def format_compare(cmp: pd.DataFrame) -> pd.DataFrame:
    """The comparison with each metric formatted by its unit and labels translated."""
    from dashboard import components as ui

    out = cmp.copy()
    value_cols = [c for c in out.columns if c != "metric"]
    for i, metric in enumerate(out["metric"]):
        unit = COMPARE_UNITS.get(metric, "text")
        for c in value_cols:
            v = out.at[i, c]
            if unit == "money1":
                out.at[i, c] = ui.fmt_money(v, 1)
            elif unit == "band":
                out.at[i, c] = t("band_" + str(v))
            elif unit == "text":
                out.at[i, c] = str(v)
            else:
                out.at[i, c] = ui.fmt_value(None if v is None else float(v), unit)
    out["metric"] = out["metric"].map(lambda m: t("cm_" + m))
    return out
