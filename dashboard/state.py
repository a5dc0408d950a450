"""Global filters (regions, date range) held in session state and shared by every page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import auth, db
from dashboard.i18n import t
from engine import clock, reference
from engine.auth import Scope


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects; every page reads it."""

    regions: tuple[int, ...]  # empty = all regions
    start: date
    end: date


@auth.cache_scoped(show_spinner=False)
def _regions(version: str, *, scope: Scope) -> pd.DataFrame:
    return reference.regions(db.cursor(), scope)


@st.cache_data(show_spinner=False)
def _bounds(version: str) -> tuple[date, date]:
    span = clock.order_span(db.cursor())
    if span is None:  # an empty database still opens, on the calendar's today
        today = clock.local_now().date()
        return today, today
    return span


def regions() -> pd.DataFrame:
    """Region ids and names inside the session's row scope."""
    return _regions(db.data_version())


def bounds() -> tuple[date, date]:
    """First and last dates with orders."""
    return _bounds(db.data_version())


def sidebar() -> Filters:
    """Draw the global filters in the sidebar and store them in session state."""
    reg = regions()
    allowed = auth.scope().regions
    names = dict(zip(reg["region_id"], reg["name"], strict=True))
    lo, hi = bounds()
    st.session_state.setdefault("flt_regions", [])
    st.session_state.setdefault("flt_dates", (max(lo, hi - timedelta(days=29)), hi))
    chosen = st.sidebar.multiselect(
        t("filter_regions"),
        options=list(names),
        format_func=lambda r: names.get(r, str(r)),
        key="flt_regions",
        placeholder=t("filter_all_regions"),
    )
    picked = st.sidebar.date_input(t("filter_dates"), min_value=lo, max_value=hi, key="flt_dates")
    if isinstance(picked, tuple) and len(picked) == 2:
        start, end = picked
    elif isinstance(picked, tuple) and len(picked) == 1:
        start = end = picked[0]
    else:
        start = end = picked  # type: ignore[assignment]
    if allowed is not None:
        st.sidebar.caption(t("scope_note"))
    f = Filters(tuple(int(r) for r in chosen if r in names), start, end)
    st.session_state["filters"] = f
    return f


def filters() -> Filters:
    """The filters chosen in the sidebar for this run."""
    f = st.session_state.get("filters")
    if f is None:
        lo, hi = bounds()
        f = Filters((), max(lo, hi - timedelta(days=29)), hi)
    return f
