"""Cached wrappers around the KPI engine for the Overview page."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import auth, db
from engine import kpis
from engine.auth import Scope


@st.cache_data(show_spinner=False, max_entries=64)
def summary(
    version: str, start: date, end: date, regions: tuple[int, ...], scope: Scope
) -> pd.DataFrame:
    """KPI values with the previous period."""
    return kpis.summary(db.cursor(), start, end, regions, scope)


@st.cache_data(show_spinner=False, max_entries=64)
def trend(
    version: str, start: date, end: date, grain: str, regions: tuple[int, ...], scope: Scope
) -> pd.DataFrame:
    """GMV, orders, success and loss per period."""
    return kpis.trend(db.cursor(), start, end, grain, regions, scope)


@st.cache_data(show_spinner=False, max_entries=64)
def repurchase(
    version: str, start: date, end: date, regions: tuple[int, ...], scope: Scope
) -> pd.DataFrame:
    """Monthly repurchase rate per month."""
    return kpis.repurchase_trend(db.cursor(), start, end, regions, scope)


@st.cache_data(show_spinner=False, max_entries=64)
def tables(
    version: str, start: date, end: date, regions: tuple[int, ...], scope: Scope
) -> dict[str, pd.DataFrame]:
    """Region, community and category tables."""
    cur = db.cursor()
    return {
        "regions": kpis.by_region(cur, start, end, regions, scope),
        "communities": kpis.community_ranking(cur, start, end, regions, scope),
        "categories": kpis.by_category(cur, start, end, regions, scope),
    }


def plan_feedback(limit: int = 5) -> pd.DataFrame:
    """Latest stored group-buy plans scored against what happened (not cached: plans change)."""
    from engine import planning

    hist = planning.history(db.cursor(), limit, auth.scope())
    if hist.empty or "realised_success" not in hist:
        return pd.DataFrame()
    return hist.dropna(subset=["realised_success"])
