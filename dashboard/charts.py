"""Plotly in Linli's house style: one layout, money and percent axes, partial periods marked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard.i18n import t

RED, TEAL, BLUE, AMBER, NAVY, CRIMSON = (
    "#e4572e",
    "#17a398",
    "#3b6ea5",
    "#f3a712",
    "#2c3e50",
    "#c0392b",
)
MARGIN = {"l": 10, "r": 10, "t": 10, "b": 10}
# Axis formats by kind: whole yuan with separators, a price (¥ and Plotly's own digits), shares.
AXES = {
    "money": {"tickprefix": "¥", "tickformat": ",.0f"},
    "yuan": {"tickprefix": "¥"},
    "pct": {"tickformat": ".0%"},
}
PARTIAL_FILL = "rgba(120, 120, 120, 0.12)"


def style(
    fig: go.Figure,
    height: int,
    *,
    y: str | None = None,
    x: str | None = None,
    h_legend: bool = True,
    top: int = 10,
    **layout,
) -> go.Figure:
    """Height, tight margins, a horizontal legend and the axes' formats (``money``, ``pct`` …)."""
    fig.update_layout(height=height, margin={**MARGIN, "t": top}, **layout)
    if h_legend:
        fig.update_layout(legend={"orientation": "h"})
    if y:
        fig.update_layout(yaxis=AXES[y])
    if x:
        fig.update_layout(xaxis=AXES[x])
    return fig


def show(fig: go.Figure, key: str, where=None) -> None:
    """Draw a figure at full width (in ``where``, a column or container, if given)."""
    (where or st).plotly_chart(fig, width="stretch", key=key)


def bar_line(
    x,
    bar_y,
    line_y,
    *,
    names: tuple[str, str],
    colors: tuple[str, str],
    height: int = 320,
    y: str | None = None,
    line_mode: str = "lines",
    bar_hover: str | None = None,
) -> go.Figure:
    """Bars on the left axis (formatted by ``y``) and a line or markers on a secondary axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(x=x, y=bar_y, name=names[0], marker_color=colors[0], hovertemplate=bar_hover)
    )
    look = (
        {"line": {"color": colors[1]}}
        if "lines" in line_mode
        else {"marker": {"size": 11, "color": colors[1]}}
    )
    mode = None if line_mode == "lines" else line_mode
    fig.add_trace(go.Scatter(x=x, y=line_y, name=names[1], mode=mode, **look), secondary_y=True)
    return style(fig, height, y=y)


def lines(traces: Iterable[dict], *, height: int = 320, y: str | None = None, **layout):
    """One figure of line traces, each a dict of ``x, y, name`` and optional ``color, dash, mode``."""
    fig = go.Figure()
    for tr in traces:
        line = {k: tr[k] for k in ("color", "dash") if tr.get(k)}
        fig.add_trace(
            go.Scatter(
                x=tr["x"], y=tr["y"], name=tr["name"], mode=tr.get("mode"), line=line or None
            )
        )
    return style(fig, height, y=y, **layout)


def bars(traces: Iterable[dict], *, height: int = 300, y: str | None = None, **layout):
    """Grouped bars, each trace a dict of ``x, y, name`` and optional ``color``."""
    fig = go.Figure()
    for tr in traces:
        fig.add_trace(go.Bar(x=tr["x"], y=tr["y"], name=tr["name"], marker_color=tr.get("color")))
    return style(fig, height, y=y, barmode="group", **layout)


def hbar(x, y, *, height: int = 360, x_kind: str | None = None, color: str = BLUE, **layout):
    """Horizontal bars (``y`` the categories)."""
    fig = go.Figure(go.Bar(x=x, y=y, orientation="h", marker_color=color))
    return style(fig, height, x=x_kind, h_legend=False, **layout)


def fan(
    history: tuple,
    forecast: tuple,
    bands: Sequence[tuple],
    *,
    names: tuple[str, str],
    height: int = 360,
) -> go.Figure:
    """A history line, a dashed forecast and its interval bands (outer first).

    ``history`` and ``forecast`` are ``(x, y)``; each band is ``(x, lo, hi, name, fill colour)``.
    """
    fig = go.Figure()
    for bx, lo, hi, name, colour in bands:
        fig.add_trace(
            go.Scatter(
                x=list(bx) + list(bx[::-1]),
                y=list(hi) + list(lo[::-1]),
                fill="toself",
                fillcolor=colour,
                line={"width": 0},
                name=name,
                hoverinfo="skip",
            )
        )
    fig.add_trace(go.Scatter(x=history[0], y=history[1], name=names[0], line={"color": NAVY}))
    fig.add_trace(
        go.Scatter(x=forecast[0], y=forecast[1], name=names[1], line={"color": RED, "dash": "dash"})
    )
    return style(fig, height)


def period_end(first: pd.Timestamp, grain: str) -> pd.Timestamp:
    """The last day of the week (Monday-based, as SQL's ``date_trunc``) or month from its first."""
    if grain == "week":
        return first + pd.Timedelta(days=6)
    if grain == "month":
        return first + pd.offsets.MonthEnd(0)
    return first


def partial_periods(
    periods, grain: str, start: date, end: date
) -> list[tuple[pd.Timestamp, int, int]]:
    """Periods only partly inside ``[start, end]``: (first day, days inside, days in the period).

    ``periods`` are the first days of weeks or months (``day`` periods are never partial).
    """
    if grain not in ("week", "month"):
        return []
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    out = []
    for first in sorted(set(pd.to_datetime(pd.Series(list(periods))).dt.normalize())):
        last = period_end(first, grain)
        total = (last - first).days + 1
        inside = (min(last, hi) - max(first, lo)).days + 1
        if 0 < inside < total:
            out.append((first, inside, total))
    return out


def mark_partial(fig: go.Figure, periods, grain: str, start: date, end: date) -> go.Figure:
    """Shade each partial period with a note "partial: n of 7 days" and hatch its bars.

    A week or month cut by the date range sums fewer days than the others; unmarked, its
    bar or point looks like a collapse.
    """
    parts = partial_periods(periods, grain, start, end)
    for first, inside, total in parts:
        half = pd.Timedelta(days=total / 2)
        fig.add_vrect(
            x0=first - half,
            x1=first + half,
            fillcolor=PARTIAL_FILL,
            line_width=0,
            layer="below",
            annotation_text=t("partial_period", n=inside, total=total),
            annotation_position="top",
            annotation_font_size=11,
        )
    cut = {p[0] for p in parts}
    for trace in fig.data:
        if trace.type == "bar" and cut:
            xs = pd.to_datetime(pd.Series(list(trace.x))).dt.normalize()
            trace.marker.pattern = {
                "shape": ["/" if x in cut else "" for x in xs],
                "fillmode": "overlay",
                "solidity": 0.4,
            }
    return fig
