"""用户分群 Segments: persona sizes, value and trends, churn-risk list, retention offers."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import components as ui
from dashboard import db, state
from dashboard import segments as sw
from dashboard.i18n import lang, t

f = state.filters()
version = db.data_version()
# Regional managers see only their regions, whatever the filter says.
regions = sw.allowed_regions(f.regions)
st.title(t("page_segments"))
if f.start > f.end:
    st.warning(t("no_data_period"))
    st.stop()

try:
    with st.spinner(t("sg_computing")):
        seg = sw.segmentation(version, f.end, regions)
        summ = sw.summary(version, f.end, regions)
except ValueError as exc:
    st.warning(f"{t('sg_cannot_segment')} — {exc}", icon=":material/warning:")
    st.stop()

users = seg.users
st.caption(t("sg_as_of", as_of=seg.as_of.isoformat(), start=seg.window_start.isoformat()))
has_churn = seg.churn is not None
cards = [
    (t("sg_users"), ui.fmt_num(len(users)), None, True),
    (t("sg_buyers_window"), ui.fmt_num(int((users["frequency"] > 0).sum())), None, True),
    (
        t("persona_hv_family"),
        ui.fmt_pct(float((users["persona"] == "hv_family").mean())),
        None,
        True,
    ),
    (
        t("persona_churn_risk"),
        ui.fmt_num(int((users["persona"] == "churn_risk").sum())),
        None,
        False,
    ),
]
if has_churn:
    cards.append((t("sg_churn_auc"), f"{seg.churn.auc_holdout:.2f}", None, True))
ui.kpi_row(cards, per_row=len(cards))
if not has_churn:
    st.info(t("sg_no_churn"), icon=":material/info:")

st.subheader(t("sg_sizes_title"))
view = summ.copy()
view["persona_label"] = view["persona"].map(lambda p: t("persona_" + p))
left, right = st.columns(2)
with left:
    fig = px.bar(
        view,
        x="persona_label",
        y=["share", "monetary_share"],
        barmode="group",
        labels={"persona_label": "", "value": "", "variable": ""},
    )
    fig.for_each_trace(lambda tr: tr.update(name=t("sg_col_" + tr.name)))
    fig.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_tickformat=".0%"
    )
    st.plotly_chart(fig, width="stretch", key="sg_sizes")
with right:
    st.dataframe(
        view.drop(columns=["persona"]).set_index("persona_label"),
        width="stretch",
        column_config={
            "users": st.column_config.NumberColumn(t("sg_col_users"), format="%,d"),
            "share": st.column_config.NumberColumn(t("sg_col_share"), format="percent"),
            "monetary": st.column_config.NumberColumn(t("sg_col_monetary"), format="¥%,.0f"),
            "monetary_share": st.column_config.NumberColumn(
                t("sg_col_monetary_share"), format="percent"
            ),
            "margin": st.column_config.NumberColumn(t("col_gross_margin"), format="¥%,.0f"),
            "avg_basket": st.column_config.NumberColumn(t("sg_col_basket"), format="¥%,.1f"),
            "avg_frequency": st.column_config.NumberColumn(t("sg_col_frequency"), format="%.1f"),
            "avg_churn_prob": st.column_config.NumberColumn(
                t("sg_col_churn_prob"), format="percent"
            ),
        },
    )
ui.download_buttons(view.drop(columns=["persona"]), "linli_segments_summary", key="sg_summary")

with st.expander(t("sg_how_title")):
    st.markdown(t("sg_how_body"))
    cent = seg.personas.centroids.copy()
    if not cent.empty:
        cent.index = [t("persona_" + p) for p in cent.index]
        st.dataframe(cent, width="stretch")

st.subheader(t("sg_trend_title"))
tr = sw.trend(version, f.end, f.start, f.end, regions)
if tr.empty:
    ui.empty_note("no_data_period")
else:
    tr = tr.assign(persona=tr["persona"].map(lambda p: t("persona_" + p)))
    fig2 = px.line(
        tr, x="week", y="buyers", color="persona", labels={"week": "", "buyers": t("sg_col_buyers")}
    )
    fig2.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend_title="")
    st.plotly_chart(fig2, width="stretch", key="sg_trend")

if has_churn:
    st.subheader(t("sg_risk_title"))
    min_p = st.slider(t("sg_min_prob"), 0.0, 1.0, 0.5, 0.05, key="sg_min_prob")
    risk = sw.risk_table(version, f.end, regions, float(min_p), lang())
    st.dataframe(
        risk.head(500),
        hide_index=True,
        width="stretch",
        column_config={
            "user_id": t("sg_col_user"),
            "community_id": t("col_community"),
            "persona_label": t("sg_col_persona"),
            "churn_prob": st.column_config.ProgressColumn(
                t("sg_col_churn_prob"), format="percent", min_value=0.0, max_value=1.0
            ),
            "drivers": t("sg_col_drivers"),
            "reason": t("sg_col_reason"),
            "recency_days": st.column_config.NumberColumn(t("sg_col_recency"), format="%d"),
            "frequency": st.column_config.NumberColumn(t("sg_col_frequency"), format="%d"),
            "monetary": st.column_config.NumberColumn(t("sg_col_monetary"), format="¥%,.0f"),
            "rfm": "RFM",
        },
    )
    st.caption(t("sg_risk_count", n=len(risk)))
    ui.download_buttons(risk, "linli_churn_risk", key="sg_risk")

    st.subheader(t("sg_offers_title"))
    st.caption(t("sg_offers_note"))
    off = sw.offers(version, f.end, regions)
    if off.empty:
        ui.empty_note("sg_no_offers")
    else:
        ocols = ["user_id", "community_id", "persona", "churn_prob", "monthly_margin"]
        ocols += ["margin_at_stake", "coupon"]
        off = off[ocols].assign(persona=off["persona"].map(lambda p: t("persona_" + p)))
        st.dataframe(
            off,
            hide_index=True,
            width="stretch",
            column_config={
                "user_id": t("sg_col_user"),
                "community_id": t("col_community"),
                "persona": t("sg_col_persona"),
                "churn_prob": st.column_config.NumberColumn(
                    t("sg_col_churn_prob"), format="percent"
                ),
                "monthly_margin": st.column_config.NumberColumn(
                    t("sg_col_monthly_margin"), format="¥%,.1f"
                ),
                "margin_at_stake": st.column_config.NumberColumn(
                    t("sg_col_margin_at_stake"), format="¥%,.1f"
                ),
                "coupon": st.column_config.NumberColumn(t("sg_col_coupon"), format="¥%.0f"),
            },
        )
        ui.download_buttons(off, "linli_retention_offers", key="sg_offers")

st.subheader(t("sg_export_title"))
export_cols = ["user_id", "community_id", "persona", "reason_key", "rfm", "r_score", "f_score"]
export_cols += ["m_score", "recency_days", "frequency", "monetary", "margin", "basket_value"]
export_cols += ["lines_per_order", "discount_share", "interval_days", "trend", "tags"]
if has_churn:
    export_cols += ["churn_prob", "driver_1", "driver_2", "driver_3"]
ui.download_buttons(users[export_cols], "linli_user_segments", key="sg_export")
