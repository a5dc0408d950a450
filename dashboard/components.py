"""Reusable widgets and formatting: KPI cards, money and percentage formats, downloads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from connectors.export import to_csv_bytes, to_excel_bytes
from dashboard.i18n import t


def fmt_money(x: float | None, decimals: int = 0) -> str:
    """¥ with thousands separators; '—' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"¥{x:,.{decimals}f}"


def fmt_pct(x: float | None) -> str:
    """A share as a percentage with one decimal; '—' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x * 100:.1f}%"


def fmt_num(x: float | None, decimals: int = 0) -> str:
    """A number with thousands separators; '—' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{decimals}f}"


def fmt_value(x: float | None, unit: str) -> str:
    """Format a KPI value by its unit (money, count, pct, days, hours, score)."""
    if unit == "money":
        return fmt_money(x)
    if unit == "pct":
        return fmt_pct(x)
    if unit == "count":
        return fmt_num(x)
    if unit in ("days", "hours"):
        return "—" if x is None or math.isnan(x) else f"{x:,.1f} {t('unit_' + unit)}"
    return fmt_num(x, 1)


def fmt_delta(d: float | None, unit: str) -> str | None:
    """Format a KPI change: relative % for money/count, points for rates, absolute else."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return None
    if unit in ("money", "count"):
        return f"{d * 100:+.1f}%"
    if unit == "pct":
        return f"{d * 100:+.1f} {t('unit_pts')}"
    return f"{d:+.1f}"


def kpi_row(cards: Sequence[tuple[str, str, str | None, bool]], per_row: int = 4) -> None:
    """Render KPI cards: (label, value, delta text, higher_is_better)."""
    for i in range(0, len(cards), per_row):
        cols = st.columns(per_row)
        for col, (label, value, delta, good_up) in zip(cols, cards[i : i + per_row], strict=False):
            col.metric(
                label, value, delta, delta_color="normal" if good_up else "inverse", border=True
            )


def download_buttons(df: pd.DataFrame, basename: str, key: str | None = None) -> None:
    """CSV and Excel download buttons side by side."""
    k = key or basename
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button(
        t("download_csv"),
        lambda: to_csv_bytes(df),  # deferred to the click: keeps reruns fast
        f"{basename}.csv",
        "text/csv",
        key=f"dl_csv_{k}",
        icon=":material/download:",
    )
    c2.download_button(
        t("download_xlsx"),
        lambda: to_excel_bytes(df),
        f"{basename}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"dl_xlsx_{k}",
        icon=":material/table:",
    )


def empty_note(message_key: str) -> None:
    """An informative note instead of an empty chart or table."""
    st.info(t(message_key), icon=":material/info:")
