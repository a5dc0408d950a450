"""经营总览 Overview: KPI cards with deltas, trends, regions, communities, categories."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, charts, db, gaps, overview
from dashboard import components as ui
from dashboard.i18n import t
from engine import kpis

HOVER = "¥%{y:,.0f}<extra></extra>"  # GMV bars: whole yuan with separators

version = db.data_version()
scope = auth.scope()
f = ui.page_header("page_overview", period=True)

summ = overview.summary(version, f.start, f.end, f.regions, scope)
p0, p1 = kpis.previous_period(f.start, f.end)
st.caption(t("ov_vs_previous", p0=p0.isoformat(), p1=p1.isoformat()))
cards = [
    ui.card("kpi_" + k.key, row.value, k.unit, ui.fmt_delta(row.delta, k.unit), k.higher_is_better)
    for row, k in zip(summ.itertuples(), kpis.KPIS, strict=True)
]
ui.kpi_row(cards, per_row=4)
gaps.kpi_notes(version, dict(zip(kpis.KPI_KEYS, summ["value"], strict=True)))

grain = ui.segmented("ov_grain", ["day", "week", "month"], "ov_grain", prefix="grain_")
tr = overview.trend(version, f.start, f.end, grain, f.regions, scope)
if tr.empty or tr["paid_orders"].sum() == 0:
    ui.stop_note("no_data_period")

left, right = st.columns(2)
left.subheader(t("ov_trend_title"))
names, colours = (t("col_gmv"), t("col_paid_orders")), (charts.RED, charts.TEAL)
gmv_orders = (tr["period"], tr["gmv"], tr["paid_orders"])
fig = charts.bar_line(
    *gmv_orders, names=names, colors=colours, height=340, y="money", bar_hover=HOVER
)
charts.show(charts.mark_partial(fig, tr["period"], grain, f.start, f.end), "ov_trend", left)
right.subheader(t("ov_rates_title"))
rp = overview.repurchase(version, f.start, f.end, f.regions, scope)
rates = [
    dict(
        x=tr["period"],
        y=tr["group_success_rate"],
        name=t("col_group_success_rate"),
        color=charts.BLUE,
    )
]
if not rp.empty:
    rates.append(
        dict(
            x=rp["month"],
            y=rp["repurchase_rate"],
            name=t("col_repurchase_rate"),
            color=charts.AMBER,
            mode="lines+markers",
        )
    )
fig2 = charts.mark_partial(
    charts.lines(rates, height=340, y="pct"), tr["period"], grain, f.start, f.end
)
charts.show(fig2, "ov_rates", right)

tabs = overview.tables(version, f.start, f.end, f.regions, scope)

st.subheader(t("ov_regions_title"))
reg = tabs["regions"].drop(columns=["region_id"])
ui.table(reg, "overview", download="linli_regions")

st.subheader(t("ov_communities_title"))
com = tabs["communities"].copy()
com["type"] = com["type"].map(lambda x: t("type_" + x))
c1, c2 = st.columns(2)
c1.markdown(f"**{t('ov_top')}**")
ui.table(com.head(10), "overview", where=c1)
c2.markdown(f"**{t('ov_bottom')}**")
ui.table(com.tail(10).iloc[::-1], "overview", where=c2)
ui.download_buttons(com, "linli_communities")

st.subheader(t("ov_category_title"))
cat = tabs["categories"]
if cat[["loss_rate", "inventory_turnover_days"]].isna().all(axis=None):
    st.caption(t("ov_no_stock"))  # e.g. regions without a forward warehouse
else:
    names = (t("col_loss_rate"), t("col_inventory_turnover_days"))
    loss_turnover = (cat["category"], cat["loss_rate"], cat["inventory_turnover_days"])
    colours = (charts.CRIMSON, charts.NAVY)
    fig3 = charts.bar_line(
        *loss_turnover, names=names, colors=colours, y="pct", line_mode="markers"
    )
    charts.show(fig3, "ov_cat")
ui.table(cat, "overview", download="linli_categories")

fb = overview.plan_feedback()
if not fb.empty:
    st.subheader(t("ov_plan_feedback"))
    cols = ["plan_id", "sale_date", "status", "coverage", "expected_success", "realised_success"]
    ui.table(fb[[*cols, "expected_gmv", "realised_gmv", "gmv_ratio"]], "plan.history")
