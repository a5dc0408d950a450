"""需求预测 Demand forecast: history, forecast with intervals, drivers, accuracy, purchase orders."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, db, gaps
from dashboard import components as ui
from dashboard import forecast as fcd
from dashboard.i18n import t

version = db.data_version()
f = ui.page_header("page_forecast")
now = fcd.current(version)  # never fits here: the fit runs in the background, stored
fcd.show_status(now)
r = now.result
if r is None:
    st.stop()
st.caption(t("fc_caption", h=fcd.H, as_of=r.as_of.date().isoformat()))
gaps.derived(r.derived)

whs = fcd.warehouses(version)
if f.regions:  # the warehouses that supply the chosen regions
    whs = whs.loc[whs["serves"].map(lambda s: bool(set(s) & set(f.regions)))]
wh_names = dict(zip(whs["warehouse_id"], whs["name"], strict=True))
c1, c2, c3 = st.columns(3)
cats = sorted(r.keys["category"].unique())
category = c1.selectbox(
    t("fc_category"),
    [None, *cats],
    format_func=lambda c: t("fc_all") if c is None else c,
    key="fc_category",
)
skus = r.keys.loc[r.keys["category"] == category] if category else r.keys
sku_names = dict(zip(skus["sku_id"], skus["name"], strict=False))
sku = c2.selectbox(
    t("fc_sku"),
    [None, *sorted(sku_names)],
    format_func=lambda s: t("fc_all") if s is None else sku_names[s],
    key="fc_sku",
)
wh = c3.multiselect(
    t("fc_warehouse"),
    list(wh_names),
    format_func=lambda w: wh_names[w],
    placeholder=t("fc_all"),
    key="fc_wh",
)
chosen = tuple(wh) if wh else tuple(wh_names)
ids = fcd.select(r, category, sku, chosen)
if not ids:
    ui.stop_note("fc_no_series")

hist, fc = fcd.totals(r, ids)
acc = fcd.accuracy(r, ids).set_index("model")
wape = acc["wape"]
first7 = fc.loc[fc["ds"] < fc["ds"].min() + pd.Timedelta(days=7), "yhat"].sum()
xgb = wape.get("xgboost")
cards = [ui.card("fc_next7", first7), ui.card("fc_next28", fc["yhat"].sum())]
cards += [ui.card("fc_wape", xgb, "pct", good_up=False)]
cards += [ui.card("fc_gain_snaive", 1 - xgb / wape.get("seasonal_naive"), "pct")]
cards += [ui.card("fc_gain_ets", 1 - xgb / wape.get("ets"), "pct")]
ui.kpi_row([*cards, ui.card("fc_gain_profile", 1 - xgb / wape.get("profile"), "pct")], per_row=6)

st.subheader(t("fc_chart_title"))
bands = [
    (fc["ds"], fc[f"yhat_lo_{lv}"], fc[f"yhat_hi_{lv}"], t(f"fc_band{lv}"), f"rgba(228,87,46,{a})")
    for lv, a in ((95, 0.15), (80, 0.3))
]
names = (t("fc_history"), t("fc_forecast"))
fig = charts.fan((hist["ds"], hist["y"]), (fc["ds"], fc["yhat"]), bands, names=names)
charts.show(fig, "fc_chart")
if len(ids) > 1:
    st.caption(t("fc_total_bands", n=len(ids)))

left, right = st.columns(2)
with left:
    st.subheader(t("fc_drivers_title"))
    imp = r.importance.head(12).iloc[::-1]
    fig2 = charts.hbar(imp["share"], imp["feature"], x_kind="pct", xaxis_title=t("fc_share"))
    charts.show(fig2, "fc_drivers")
with right:
    st.subheader(t("fc_accuracy_title"))
    st.caption(t("fc_loss_" + r.objective))
    table = acc.reset_index()
    table["model"] = table["model"].map(lambda m: t("fc_model_" + m))
    ui.table(table, "forecast.accuracy")
    st.markdown(f"**{t('fc_by_category')}**")
    ui.table(fcd.accuracy_by_category(r, ids), "forecast.accuracy", rename=True)

st.subheader(t("fc_po_title"))
po_label = {1: t("fc_po_tomorrow"), 7: t("fc_po_week")}
days = ui.segmented("fc_po_horizon", [1, 7], "fc_po_days", format_func=po_label.get)
st.caption(t("fc_po_note"))
gaps.note(version, "purchasing_stock")  # without stock rows, on-hand counts as zero
plan = fcd.purchase_plan(version, now.fit_id, int(days), chosen)
if plan.lines.empty:
    ui.empty_note("fc_po_empty")
else:
    st.markdown(f"**{t('fc_po_orders')}**")
    ui.table(plan.orders, "forecast.purchase", download="linli_purchase_orders", key="fc_orders")
    st.markdown(f"**{t('fc_po_lines')}**")
    lines = plan.lines.assign(warehouse=plan.lines["warehouse_id"].map(wh_names))
    ui.table(lines, "forecast.purchase", download="linli_purchase_lines", key="fc_lines")
