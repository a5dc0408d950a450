"""Plotly in Linli's house style: one layout, money and percent axes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

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
