"""Cached wrappers around the basket engine for the 关联推荐 page, and its network chart."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import auth, db
from engine import basket
from engine.auth import Scope
from engine.basket import slices


def allowed_regions(requested: tuple[int, ...]) -> tuple[int, ...]:
    """The requested regions limited to the session's row scope (empty = all, if unscoped)."""
    return auth.scope().clip_regions(requested)


def _scope(
    start: date, end: date, regions: tuple[int, ...], types: tuple[str, ...], level: str
) -> slices.BasketSlice:
    return slices.BasketSlice(
        regions=regions, community_types=types, start=start, end=end, level=level
    )


@auth.cache_scoped(show_spinner=False, max_entries=32)
def transactions(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    types: tuple[str, ...],
    level: str,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Basket transactions of the scope."""
    return slices.transactions(db.cursor(), _scope(start, end, regions, types, level), scope)


@st.cache_data(show_spinner=False, max_entries=32)
def community_types(version: str) -> list[str]:
    """Community types in the database."""
    return slices.community_types(db.cursor())


@auth.cache_scoped(show_spinner=False, max_entries=32)
def rules(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    types: tuple[str, ...],
    level: str,
    min_support: float,
    min_confidence: float,
    max_len: int,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Association rules of the scope (single consequent, arules semantics)."""
    tx = transactions(version, start, end, regions, types, level)
    if tx.empty:
        return basket.empty_rules()
    return basket.rules(tx, min_support, min_confidence, max_len=max_len)


@auth.cache_scoped(show_spinner=False, max_entries=32)
def also_bought(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    types: tuple[str, ...],
    level: str,
    item: str,
    top: int,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Items most often bought with ``item`` in the scope."""
    tx = transactions(version, start, end, regions, types, level)
    return basket.also_bought(tx, item, top=top)


@auth.cache_scoped(show_spinner=False, max_entries=32)
def bundles(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    types: tuple[str, ...],
    level: str,
    min_support: float,
    min_confidence: float,
    top: int,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Best 2-3-item bundles per community type."""
    return slices.bundles_by_type(
        db.cursor(),
        _scope(start, end, regions, types, level),
        min_support,
        min_confidence,
        max_size=3,
        top=top,
        access=scope,
    )


def as_text(items: frozenset) -> str:
    """Items of a set as sorted, comma-separated text."""
    return "、".join(sorted(map(str, items)))


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with frozenset columns turned into text, for tables and exports."""
    out = df.copy()
    for col in ("antecedents", "consequents", "items"):
        if col in out.columns:
            out[col] = out[col].map(as_text)
    return out


def network(found: pd.DataFrame, top: int = 40) -> go.Figure:
    """Plotly network of the strongest one-to-one rules: arrows antecedent -> consequent.

    Nodes sit on a circle; edge width follows confidence and colour follows lift; a rule
    and its reverse share one double-headed arrow (hover the midpoints for both).
    """
    pairs = found[found["antecedents"].map(len) == 1].head(top)
    fig = go.Figure()
    if pairs.empty:
        return fig
    src = [next(iter(a)) for a in pairs["antecedents"]]
    dst = [next(iter(c)) for c in pairs["consequents"]]
    nodes = sorted(set(src) | set(dst), key=str)
    angle = 2 * np.pi * np.arange(len(nodes)) / len(nodes)
    pos = {n: (float(np.cos(a)), float(np.sin(a))) for n, a in zip(nodes, angle, strict=True)}
    lift = pairs["lift"].to_numpy()
    span = max(float(lift.max() - lift.min()), 1e-9)
    drawn: dict[tuple, int] = {}
    for s, d, row in zip(src, dst, pairs.itertuples(), strict=True):
        if (d, s) in drawn:  # the reverse rule is already drawn: one double-headed arrow
            fig.layout.annotations[drawn[(d, s)]].arrowside = "end+start"
            continue
        drawn[(s, d)] = len(fig.layout.annotations)
        shade = (row.lift - lift.min()) / span
        colour = f"rgba({int(60 + 180 * shade)}, {int(110 - 60 * shade)}, 165, 0.75)"
        fig.add_annotation(
            x=pos[d][0],
            y=pos[d][1],
            ax=pos[s][0],
            ay=pos[s][1],
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1,
            arrowwidth=1 + 4 * row.confidence,
            arrowcolor=colour,
            standoff=8,
            startstandoff=8,
        )
    mid_x = [(pos[s][0] + pos[d][0]) / 2 for s, d in zip(src, dst, strict=True)]
    mid_y = [(pos[s][1] + pos[d][1]) / 2 for s, d in zip(src, dst, strict=True)]
    hover = [
        f"{s} → {d}<br>conf {r.confidence:.1%} · lift {r.lift:.2f} · supp {r.support:.2%}"
        for s, d, r in zip(src, dst, pairs.itertuples(), strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            marker={"size": 6, "color": lift, "colorscale": "Bluered", "showscale": True},
            hovertext=hover,
            hoverinfo="text",
            name="rules",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in nodes],
            y=[pos[n][1] for n in nodes],
            mode="markers+text",
            text=[str(n) for n in nodes],
            # Labels outside the circle, away from the arrows inside it.
            textposition=["top center" if pos[n][1] >= 0 else "bottom center" for n in nodes],
            marker={"size": 14, "color": "#17a398"},
            hoverinfo="text",
            name="items",
        )
    )
    fig.update_layout(
        height=560,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False, "range": [-1.3, 1.3]},
        yaxis={"visible": False, "range": [-1.3, 1.3], "scaleanchor": "x"},
    )
    return fig


@auth.cache_scoped(show_spinner=False, max_entries=32)
def items(
    version: str,
    start: date,
    end: date,
    regions: tuple[int, ...],
    types: tuple[str, ...],
    level: str,
    *,
    scope: Scope,
) -> pd.DataFrame:
    """Items of the scope with their order counts, most frequent first."""
    tx = transactions(version, start, end, regions, types, level)
    return basket.item_support(tx)


SORT_KEYS = ("lift", "confidence", "support", "count")


def filter_rules(found: pd.DataFrame, search: str, min_lift: float, sort: str) -> pd.DataFrame:
    """Rules whose either side has an item containing ``search``, lift >= ``min_lift``."""
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {SORT_KEYS}; got {sort!r}")
    out = found[found["lift"] >= min_lift]
    text = search.strip()
    if text:
        hit = [
            any(text in str(i) for i in a | c)
            for a, c in zip(out["antecedents"], out["consequents"], strict=True)
        ]
        out = out[hit]
    return out.sort_values(sort, ascending=False, kind="stable").reset_index(drop=True)
