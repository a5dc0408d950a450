"""经营总览 Overview: KPI cards with deltas, trends, regions, communities, categories."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import auth, db, overview, state
from dashboard import components as ui
from dashboard import plan as svc_plan
from dashboard.i18n import t
from engine import kpis

f = state.filters()
version = db.data_version()
scope = auth.scope()
st.title(t("page_overview"))
if f.start > f.end:
    st.warning(t("no_data_period"))
    st.stop()

summ = overview.summary(version, f.start, f.end, f.regions, scope)
p0, p1 = kpis.previous_period(f.start, f.end)
st.caption(t("ov_vs_previous", p0=p0.isoformat(), p1=p1.isoformat()))
cards = []
for row, k in zip(summ.itertuples(), kpis.KPIS, strict=True):
    cards.append(
        (
            t("kpi_" + k.key),
            ui.fmt_value(row.value, k.unit),
            ui.fmt_delta(row.delta, k.unit),
            k.higher_is_better,
        )
    )
ui.kpi_row(cards, per_row=4)

grain = (
    st.segmented_control(
        t("ov_grain"),
        ["day", "week", "month"],
        default="day",
        format_func=lambda g: t("grain_" + g),
        key="ov_grain",
    )
    or "day"
)
tr = overview.trend(version, f.start, f.end, grain, f.regions, scope)
if tr.empty or tr["paid_orders"].sum() == 0:
    ui.empty_note("no_data_period")
    st.stop()

left, right = st.columns(2)
with left:
    st.subheader(t("ov_trend_title"))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=tr["period"],
            y=tr["gmv"],
            name=t("col_gmv"),
            marker_color="#e4572e",
            hovertemplate="¥%{y:,.0f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=tr["period"],
            y=tr["paid_orders"],
            name=t("col_paid_orders"),
            line={"color": "#17a398"},
        ),
        secondary_y=True,
    )
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h"},
        yaxis_tickprefix="¥",
        yaxis_tickformat=",.0f",
    )
    st.plotly_chart(fig, width="stretch", key="ov_trend")
with right:
    st.subheader(t("ov_rates_title"))
    rp = overview.repurchase(version, f.start, f.end, f.regions, scope)
    fig2 = go.Figure()
    fig2.add_trace(
        go.Scatter(
            x=tr["period"],
            y=tr["group_success_rate"],
            name=t("col_group_success_rate"),
            line={"color": "#3b6ea5"},
        )
    )
    if not rp.empty:
        fig2.add_trace(
            go.Scatter(
                x=rp["month"],
                y=rp["repurchase_rate"],
                mode="lines+markers",
                name=t("col_repurchase_rate"),
                line={"color": "#f3a712"},
            )
        )
    fig2.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_tickformat=".0%",
        legend={"orientation": "h"},
    )
    st.plotly_chart(fig2, width="stretch", key="ov_rates")

tabs = overview.tables(version, f.start, f.end, f.regions, scope)

st.subheader(t("ov_regions_title"))
reg = tabs["regions"].drop(columns=["region_id"])
st.dataframe(
    reg,
    hide_index=True,
    width="stretch",
    column_config={
        "region": t("col_region"),
        "gmv": st.column_config.NumberColumn(t("col_gmv"), format="¥%,.0f"),
        "paid_orders": st.column_config.NumberColumn(t("col_paid_orders"), format="%,d"),
        "active_buyers": st.column_config.NumberColumn(t("col_active_buyers"), format="%,d"),
        "group_success_rate": st.column_config.NumberColumn(
            t("col_group_success_rate"), format="percent"
        ),
        "on_time_rate": st.column_config.NumberColumn(t("col_on_time_rate"), format="percent"),
    },
)
ui.download_buttons(reg, "linli_regions")

st.subheader(t("ov_communities_title"))
com = tabs["communities"].copy()
com["type"] = com["type"].map(lambda x: t("type_" + x))
com_cfg = {
    "community_id": None,
    "community": t("col_community"),
    "region": t("col_region"),
    "type": t("col_type"),
    "gmv": st.column_config.NumberColumn(t("col_gmv"), format="¥%,.0f"),
    "paid_orders": st.column_config.NumberColumn(t("col_paid_orders"), format="%,d"),
    "gmv_per_household": st.column_config.NumberColumn(t("col_gmv_per_household"), format="¥%,.1f"),
    "group_success_rate": st.column_config.NumberColumn(
        t("col_group_success_rate"), format="percent"
    ),
}
c1, c2 = st.columns(2)
c1.markdown(f"**{t('ov_top')}**")
c1.dataframe(com.head(10), hide_index=True, width="stretch", column_config=com_cfg)
c2.markdown(f"**{t('ov_bottom')}**")
c2.dataframe(com.tail(10).iloc[::-1], hide_index=True, width="stretch", column_config=com_cfg)
ui.download_buttons(com, "linli_communities")

st.subheader(t("ov_category_title"))
cat = tabs["categories"]
if cat[["loss_rate", "inventory_turnover_days"]].isna().all(axis=None):
    st.caption(t("ov_no_stock"))  # e.g. regions without a forward warehouse
else:
    fig3 = make_subplots(specs=[[{"secondary_y": True}]])
    fig3.add_trace(
        go.Bar(
            x=cat["category"], y=cat["loss_rate"], name=t("col_loss_rate"), marker_color="#c0392b"
        )
    )
    fig3.add_trace(
        go.Scatter(
            x=cat["category"],
            y=cat["inventory_turnover_days"],
            mode="markers",
            marker={"size": 11, "color": "#2c3e50"},
            name=t("col_inventory_turnover_days"),
        ),
        secondary_y=True,
    )
    fig3.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_tickformat=".0%",
        legend={"orientation": "h"},
    )
    st.plotly_chart(fig3, width="stretch", key="ov_cat")
st.dataframe(
    cat,
    hide_index=True,
    width="stretch",
    column_config={
        "category": t("col_category"),
        "gmv": st.column_config.NumberColumn(t("col_gmv"), format="¥%,.0f"),
        "gross_margin": st.column_config.NumberColumn(t("col_gross_margin"), format="¥%,.0f"),
        "margin_rate": st.column_config.NumberColumn(t("col_margin_rate"), format="percent"),
        "loss_rate": st.column_config.NumberColumn(t("col_loss_rate"), format="percent"),
        "wasted_value": st.column_config.NumberColumn(t("col_wasted_value"), format="¥%,.0f"),
        "inventory_turnover_days": st.column_config.NumberColumn(
            t("col_inventory_turnover_days"), format="%.1f"
        ),
    },
)
ui.download_buttons(cat, "linli_categories")

fb = overview.plan_feedback()
if not fb.empty:
    st.subheader(t("ov_plan_feedback"))
    st.dataframe(
        fb[
            [
                "plan_id",
                "sale_date",
                "status",
                "coverage",
                "expected_success",
                "realised_success",
                "expected_gmv",
                "realised_gmv",
                "gmv_ratio",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config=svc_plan.history_columns(),
    )
