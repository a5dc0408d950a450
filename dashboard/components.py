"""Reusable widgets and formatting: page header, KPI cards, formats, tables, downloads."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from connectors.export import to_csv_bytes, to_excel_bytes
from dashboard import columns, state
from dashboard.i18n import t

# Markdown (CommonMark) punctuation, plus Streamlit's own: $ starts LaTeX, :name[...] colours and
# :material/icon: icons, & starts an HTML entity.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def md(text: object) -> str:
    """``text`` (a name from the data or from a user) safe inside Markdown: shown as typed.

    Every place that puts a name into a caption, message, subheader or label goes through
    here: a backtick, ``**``, ``$``, ``:red[...]``, a link or a line break in a community,
    leader, region, sheet, rule or user name cannot change the text around it.
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


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
    """Format a KPI value by its unit (money, money1, money2, count, pct, days, hours, num2,
    text; anything else, e.g. score, with one decimal)."""
    if unit == "text":
        return str(x)
    if unit in ("money", "money1", "money2"):
        return fmt_money(x, 0 if unit == "money" else int(unit[-1]))
    if unit == "num2":
        return fmt_num(x, 2)
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


def card(
    label_key: str, value, unit: str = "count", delta: str | None = None, good_up: bool = True
) -> tuple[str, str, str | None, bool]:
    """One KPI card for :func:`kpi_row`: translated label and the value formatted by ``unit``."""
    return (t(label_key), fmt_value(value, unit), delta, good_up)


def kpi_row(cards: Sequence[tuple[str, str, str | None, bool]], per_row: int = 4) -> None:
    """Render KPI cards: (label, value, delta text, higher_is_better)."""
    for i in range(0, len(cards), per_row):
        cols = st.columns(per_row)
        for col, (label, value, delta, good_up) in zip(cols, cards[i : i + per_row], strict=False):
            col.metric(
                label, value, delta, delta_color="normal" if good_up else "inverse", border=True
            )


MIME = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html",
}


def download(label_key: str, data, filename: str, key: str, icon: str, where=None) -> None:
    """One download button; the MIME type follows the file's extension."""
    mime = MIME[filename[filename.rindex(".") :]]
    (where or st).download_button(t(label_key), data, filename, mime, key=key, icon=icon)


def download_buttons(df: pd.DataFrame, basename: str, key: str | None = None) -> None:
    """CSV and Excel download buttons side by side."""
    k = key or basename
    c1, c2, _ = st.columns([1, 1, 4])
    # The files are built on the click, not on every rerun: keeps reruns fast.
    csv, xlsx = (lambda: to_csv_bytes(df)), (lambda: to_excel_bytes(df))
    download("download_csv", csv, f"{basename}.csv", f"dl_csv_{k}", ":material/download:", c1)
    download("download_xlsx", xlsx, f"{basename}.xlsx", f"dl_xlsx_{k}", ":material/table:", c2)


def empty_note(message_key: str) -> None:
    """An informative note instead of an empty chart or table."""
    st.info(t(message_key), icon=":material/info:")


def page_header(title_key: str, caption: str | None = None, *, period: bool = False):
    """The page title (and caption); returns the sidebar filters.

    With ``period``, a reversed date range stops the page with the standard warning.
    """
    f = state.filters()
    st.title(t(title_key))
    if caption:
        st.caption(caption)
    if period and f.start > f.end:
        st.warning(t("no_data_period"))
        st.stop()
    return f


def stop_note(message_key: str) -> None:
    """Show the informative note and stop the page (nothing to draw)."""
    empty_note(message_key)
    st.stop()


def stop_warning(reason_key: str, exc: Exception) -> None:
    """Warn why the page cannot be drawn (a translated reason and the detail) and stop."""
    st.warning(f"{t(reason_key)} — {exc}", icon=":material/warning:")
    st.stop()


def segmented(
    label_key: str, options: list, key: str, prefix: str = "", where=None, **kwargs
) -> object:
    """A segmented control whose options are labelled ``t(prefix + option)``; first by default."""
    kwargs.setdefault("format_func", lambda o: t(prefix + str(o)))
    default = kwargs.pop("default", options[0])
    chosen = (where or st).segmented_control(
        t(label_key), options, default=default, key=key, **kwargs
    )
    return default if chosen is None else chosen


def table(
    frame: pd.DataFrame,
    name: str,
    *,
    download: str | None = None,
    key: str | None = None,
    where=None,
    config: dict | None = None,
    empty: str | None = None,
    rename: bool = False,
    hide_index: bool = True,
    **kwargs,
) -> None:
    """A full-width table with headers and formats from the column registry's ``name`` table.

    ``config`` overrides single columns (see :func:`dashboard.columns.config`); ``download``
    adds CSV and Excel buttons with that file name; ``empty`` is the note shown instead of
    a table without rows. ``rename`` puts the translated headers into the frame itself and
    leaves the formats to Streamlit: a pivot whose columns are data (one per model) then
    gets columns as wide as their headers.
    """
    if empty and frame.empty:
        empty_note(empty)
        return
    if rename:
        frame, cfg = frame.rename(columns=columns.labels(name, frame)), None
    else:
        cfg = columns.config(name, frame, config)
    (where or st).dataframe(
        frame, hide_index=hide_index, width="stretch", column_config=cfg, **kwargs
    )
    if download:
        download_buttons(frame, download, key=key)
