"""定价模拟, tab 4: price elasticities with 95 % intervals by category, SKU, community or segment."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard import charts
from dashboard import components as ui
from dashboard import pricing as pr
from dashboard.i18n import t
from dashboard.views.pricing import PricingContext


def render(ctx: PricingContext) -> None:
    """A grouping to choose, the estimates with error bars, and their table."""
    by_labels = [t("pr_by_" + g) for g in pr.GROUPINGS]
    by_label = st.selectbox(t("pr_by"), by_labels, key="pr_el_by")
    by = pr.GROUPINGS[by_labels.index(by_label)]
    with st.spinner(t("pr_fitting")):
        el_tab = pr.elasticities(ctx.version, by)
    group_col = el_tab.columns[0]
    st.caption(t("pr_elasticity_note"))
    shown = el_tab.head(40) if by == "sku" else el_tab
    fig = go.Figure(
        go.Scatter(
            x=shown["elasticity"],
            y=shown[group_col].astype(str),
            mode="markers",
            marker={"size": 10, "color": charts.BLUE},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": shown["ci_high"] - shown["elasticity"],
                "arrayminus": shown["elasticity"] - shown["ci_low"],
            },
        )
    )
    charts.show(charts.style(fig, 420, h_legend=False), "pr_el_chart")
    # A user segment's column is named "segment"; its header says which attribute it is.
    segment = {"segment": "pr_by_" + by}
    ui.table(
        el_tab, "pricing.elasticity", config=segment, download="linli_elasticities", key="pr_el_dl"
    )
