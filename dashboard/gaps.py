"""The one-line reason a feature is unavailable (engine.availability), for every page.

A page asks :func:`note` (or :func:`stop`) before drawing a feature that reads an optional
table; an engine call that raised :class:`engine.availability.MissingDataError` is shown with
:func:`show`. The wording lives in one locale key (``av_reason``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from connectors import tables
from dashboard import db
from dashboard.i18n import t
from engine import availability

ICON = ":material/database_off:"


@st.cache_data(show_spinner=False, max_entries=64)
def missing(version: str, feature: str) -> tuple[str, ...]:
    """Empty tables the feature needs, per data version."""
    return availability.missing(db.cursor(), feature)


def reason(feature: str, tables: Sequence[str]) -> str:
    """「{feature}不可用：{tables} 表为空。…导入 {files}…」 in the current language."""
    return t(
        "av_reason",
        feature=t("av_f_" + feature),
        tables=", ".join(tables),
        files=", ".join(f"{name}.csv" for name in tables),
    )


def note(version: str, feature: str, where=None) -> bool:
    """Show the reason when the feature's tables are empty; return whether they are."""
    gone = missing(version, feature)
    if gone:
        (where or st).info(reason(feature, gone), icon=ICON)
    return bool(gone)


def stop(version: str, feature: str) -> None:
    """Show the reason and stop the page when the feature's tables are empty."""
    if note(version, feature):
        st.stop()


def show(exc: availability.MissingDataError, where=None) -> None:
    """Show the reason carried by an engine's MissingDataError."""
    (where or st).info(reason(exc.feature, exc.tables), icon=ICON)


def kpi_reasons(version: str, values: dict[str, float | None]) -> list[str]:
    """Why each empty KPI card shows "—": one line per KPI whose tables are empty."""
    out = []
    for key, value in values.items():
        feature = "kpi_" + key
        empty = value is None or (isinstance(value, float) and pd.isna(value))
        if empty and feature in availability.FEATURES and (gone := missing(version, feature)):
            out.append("— " + reason(feature, gone))
    return out


def kpi_notes(version: str, values: dict[str, float | None]) -> None:
    """Under KPI cards: one caption per card that reads "—" for lack of a table."""
    for line in kpi_reasons(version, values):
        st.caption(line)


def derived(notes: Sequence[str]) -> None:
    """Say what an engine derived rather than read (e.g. listings from orders)."""
    for n in notes:
        st.caption(f":material/info: {t('av_derived_' + n)}")


def input_tables() -> tuple[str, ...]:
    """The loader's registry (connectors/tables.py) first, then any other table an engine reads."""
    return tuple(dict.fromkeys([*tables.LOAD_ORDER, *availability.INPUT_TABLES]))


@st.cache_data(show_spinner=False, ttl=5)
def health(version: str) -> pd.DataFrame:
    """Per input table rows, coverage, last load, quarantine and the features it blocks."""
    frame = availability.health(db.cursor(), input_tables())
    frame["unavailable"] = frame["unavailable"].map(
        lambda s: "、".join(t("av_f_" + f) for f in s.split(", ")) if s else ""
    )
    return frame


@st.cache_data(show_spinner=False, ttl=5)
def _gaps(version: str) -> list[availability.Gap]:
    return availability.gaps(db.cursor())


def summary(version: str) -> None:
    """All features the data do not support, one reason line each (or that none is missing)."""
    st.subheader(t("av_health_title"))
    st.caption(t("av_health_caption"))
    found = _gaps(version)
    if not found:
        st.success(t("av_health_all_ok"), icon=":material/check_circle:")
        return
    lines = "\n".join(f"- {reason(g.feature, g.tables)}" for g in found)
    st.warning(f"{t('av_health_gaps', n=len(found))}\n\n{lines}", icon=ICON)
