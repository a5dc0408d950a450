"""需求预测 Demand forecast: history, forecast with intervals, drivers, accuracy, purchase orders."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import components as ui
from dashboard import db, state
from dashboard import forecast as fcd
from dashboard.i18n import t

f = state.filters()
version = db.data_version()
st.title(t("page_forecast"))
with st.spinner(t("fc_fitting")):
    r = fcd.result(version)
st.caption(t("fc_caption", h=fcd.H, as_of=r.as_of.date().isoformat()))

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
    ui.empty_note("fc_no_series")
    st.stop()

hist, fc = fcd.totals(r, ids)
acc = fcd.accuracy(r, ids).set_index("model")
wape = acc["wape"]
first7 = fc.loc[fc["ds"] < fc["ds"].min() + pd.Timedelta(days=7), "yhat"].sum()
ui.kpi_row(
    [
        (t("fc_next7"), ui.fmt_num(first7), None, True),
        (t("fc_next28"), ui.fmt_num(fc["yhat"].sum()), None, True),
        (t("fc_wape"), ui.fmt_pct(wape.get("xgboost")), None, False),
        (
            t("fc_gain_snaive"),
            ui.fmt_pct(1 - wape.get("xgboost") / wape.get("seasonal_naive")),
            None,
            True,
        ),
        (t("fc_gain_ets"), ui.fmt_pct(1 - wape.get("xgboost") / wape.get("ets")), None, True),
    ],
    per_row=5,
)

st.subheader(t("fc_chart_title"))
fig = go.Figure()
for lv, color in ((95, "rgba(228,87,46,0.15)"), (80, "rgba(228,87,46,0.3)")):
    fig.add_trace(
        go.Scatter(
            x=list(fc["ds"]) + list(fc["ds"][::-1]),
            y=list(fc[f"yhat_hi_{lv}"]) + list(fc[f"yhat_lo_{lv}"][::-1]),
            fill="toself",
            fillcolor=color,
            line={"width": 0},
            name=t(f"fc_band{lv}"),
            hoverinfo="skip",
        )
    )
fig.add_trace(
    go.Scatter(x=hist["ds"], y=hist["y"], name=t("fc_history"), line={"color": "#2c3e50"})
)
fig.add_trace(
    go.Scatter(
        x=fc["ds"], y=fc["yhat"], name=t("fc_forecast"), line={"color": "#e4572e", "dash": "dash"}
    )
)
fig.update_layout(
    height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"}
)
st.plotly_chart(fig, width="stretch", key="fc_chart")
if len(ids) > 1:
    st.caption(t("fc_total_bands", n=len(ids)))

left, right = st.columns(2)
with left:
    st.subheader(t("fc_drivers_title"))
    imp = r.importance.head(12).iloc[::-1]
    fig2 = go.Figure(
        go.Bar(x=imp["share"], y=imp["feature"], orientation="h", marker_color="#3b6ea5")
    )
    fig2.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_tickformat=".0%",
        xaxis_title=t("fc_share"),
    )
    st.plotly_chart(fig2, width="stretch", key="fc_drivers")
with right:
    st.subheader(t("fc_accuracy_title"))
    st.caption(t("fc_loss_" + r.objective))
    table = acc.reset_index()
    table["model"] = table["model"].map(lambda m: t("fc_model_" + m))
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "model": t("fc_model"),
            "n": None,
            "actual": st.column_config.NumberColumn(t("fc_units"), format="%,.0f"),
            "wape": st.column_config.NumberColumn("WAPE", format="percent"),
            "bias": st.column_config.NumberColumn(t("fc_bias"), format="percent"),
        },
    )
    by_cat = fcd.accuracy_by_category(r, ids)
    st.markdown(f"**{t('fc_by_category')}**")
    st.dataframe(
        by_cat.rename(
            columns={m: t("fc_model_" + m) for m in ("xgboost", "seasonal_naive", "ets")}
        ),
        hide_index=True,
        width="stretch",
        column_config={"category": t("col_category")},
    )

st.subheader(t("fc_po_title"))
days = (
    st.segmented_control(
        t("fc_po_horizon"),
        [1, 7],
        default=1,
        key="fc_po_days",
        format_func=lambda d: t("fc_po_tomorrow") if d == 1 else t("fc_po_week"),
    )
    or 1
)
st.caption(t("fc_po_note"))
plan = fcd.purchase_plan(version, int(days), chosen)
if plan.lines.empty:
    ui.empty_note("fc_po_empty")
else:
    st.markdown(f"**{t('fc_po_orders')}**")
    st.dataframe(
        plan.orders,
        hide_index=True,
        width="stretch",
        column_config={
            "supplier_id": None,
            "supplier": t("col_supplier"),
            "lead_time_days": t("col_lead_time"),
            "order_date": t("col_order_date"),
            "arrival_date": t("col_arrival"),
            "lines": t("col_lines"),
            "units": t("col_qty"),
            "amount": st.column_config.NumberColumn(t("col_amount"), format="¥%,.0f"),
        },
    )
    ui.download_buttons(plan.orders, "linli_purchase_orders", key="fc_orders")
    st.markdown(f"**{t('fc_po_lines')}**")
    lines = plan.lines.assign(warehouse=plan.lines["warehouse_id"].map(wh_names))
    st.dataframe(
        lines,
        hide_index=True,
        width="stretch",
        column_config={
            "supplier_id": None,
            "sku_id": None,
            "warehouse_id": None,
            "supplier": t("col_supplier"),
            "warehouse": t("fc_warehouse"),
            "name": t("col_sku_name"),
            "category": t("col_category"),
            "service_level": t("col_service_level"),
            "planned_demand": st.column_config.NumberColumn(t("col_planned"), format="%.1f"),
            "forecast": st.column_config.NumberColumn(t("fc_forecast"), format="%.1f"),
            "on_hand": t("col_on_hand"),
            "in_transit": t("col_in_transit"),
            "qty": t("col_qty"),
            "pack_size": t("col_pack"),
            "amount": st.column_config.NumberColumn(t("col_amount"), format="¥%,.0f"),
        },
    )
    ui.download_buttons(lines, "linli_purchase_lines", key="fc_lines")
