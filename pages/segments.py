"""用户分群 Segments: persona sizes, value and trends, churn-risk list, retention offers."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import charts, db
from dashboard import components as ui
from dashboard import coupons as cw
from dashboard import segments as sw
from dashboard.i18n import lang, t

version = db.data_version()
f = ui.page_header("page_segments", period=True)
# Regional managers see only their regions, whatever the filter says.
regions = sw.allowed_regions(f.regions)
try:
    with st.spinner(t("sg_computing")):
        seg = sw.segmentation(version, f.end, regions)
        summ = sw.summary(version, f.end, regions)
except ValueError as exc:
    ui.stop_warning("sg_cannot_segment", exc)

users = seg.users
st.caption(t("sg_as_of", as_of=seg.as_of.isoformat(), start=seg.window_start.isoformat()))
has_churn = seg.churn is not None
cards = [
    ui.card("sg_users", len(users)),
    ui.card("sg_buyers_window", int((users["frequency"] > 0).sum())),
    ui.card("persona_hv_family", float((users["persona"] == "hv_family").mean()), "pct"),
    ui.card("persona_churn_risk", int((users["persona"] == "churn_risk").sum()), good_up=False),
]
if has_churn:
    cards.append(ui.card("sg_churn_auc", seg.churn.auc_holdout, "num2"))
ui.kpi_row(cards, per_row=len(cards))
if not has_churn:
    st.info(t("sg_no_churn"), icon=":material/info:")

st.subheader(t("sg_sizes_title"))
view = summ.copy()
view["persona_label"] = view["persona"].map(lambda p: t("persona_" + p))
left, right = st.columns(2)
fig = px.bar(
    view,
    x="persona_label",
    y=["share", "monetary_share"],
    barmode="group",
    labels={"persona_label": "", "value": "", "variable": ""},
)
fig.for_each_trace(lambda tr: tr.update(name=t("sg_col_" + tr.name)))
charts.show(charts.style(fig, 320, y="pct", h_legend=False), "sg_sizes", left)
sizes = view.drop(columns=["persona"])
ui.table(sizes.set_index("persona_label"), "segments.sizes", where=right, hide_index=False)
ui.download_buttons(sizes, "linli_segments_summary", key="sg_summary")

with st.expander(t("sg_how_title")):
    st.markdown(t("sg_how_body"))
    cent = seg.personas.centroids.copy()
    if not cent.empty:
        cent.index = [t("persona_" + p) for p in cent.index]
        ui.table(cent, "segments.centroids", hide_index=False)

st.subheader(t("sg_trend_title"))
tr = sw.trend(version, f.end, f.start, f.end, regions)
if tr.empty:
    ui.empty_note("no_data_period")
else:
    tr = tr.assign(persona=tr["persona"].map(lambda p: t("persona_" + p)))
    fig2 = px.line(
        tr, x="week", y="buyers", color="persona", labels={"week": "", "buyers": t("sg_col_buyers")}
    )
    charts.style(fig2, 320, h_legend=False, legend_title="")
    charts.show(charts.mark_partial(fig2, tr["week"], "week", f.start, f.end), "sg_trend")

if has_churn:
    st.subheader(t("sg_risk_title"))
    min_p = st.slider(t("sg_min_prob"), 0.0, 1.0, 0.5, 0.05, key="sg_min_prob")
    risk = sw.risk_table(version, f.end, regions, float(min_p), lang())
    ui.table(risk.head(500), "segments.risk")
    st.caption(t("sg_risk_count", n=len(risk)))
    ui.download_buttons(risk, "linli_churn_risk", key="sg_risk")

    st.subheader(t("sg_offers_title"))
    st.caption(t("sg_offers_note"))
    off = sw.offers(version, f.end, regions)
    if off.empty:
        ui.empty_note("sg_no_offers")
    else:
        ocols = ["user_id", "community_id", "persona", "churn_prob", "monthly_margin"]
        off = off[[*ocols, "margin_at_stake", "coupon"]]
        off = off.assign(persona=off["persona"].map(lambda p: t("persona_" + p)))
        ui.table(off, "segments.offers", download="linli_retention_offers", key="sg_offers")
        with st.expander(t("cpn_issue_title")):
            c1, c2 = st.columns(2)
            hold = c1.slider(t("cpn_holdout"), 0.05, 0.5, 0.2, 0.05, key="cpn_holdout")
            days = c2.number_input(t("cpn_valid_days"), 1, 60, 14, key="cpn_days")
            st.caption(t("cpn_issue_note", n=len(off), hold=round(len(off) * hold)))
            if st.button(t("cpn_issue"), key="cpn_issue"):
                tr = cw.issue_offers(off, seg.as_of, float(hold), int(days), seed=0)
                st.success(t("cpn_issued", id=tr.trial_id, n=tr.n_coupon, h=tr.n_holdout))

trials = cw.trials(version)
if len(trials):
    st.subheader(t("cpn_trials_title"))
    ui.table(trials, "segments.trials")
    pick = st.selectbox(t("cpn_trial"), list(trials["trial_id"]), key="cpn_trial")
    res = cw.measure(version, pick)
    if isinstance(res, str):
        st.info(res, icon=":material/info:")
    else:
        st.caption(
            t("cpn_measure_note", end=res.end.isoformat(), rate=ui.fmt_pct(res.redemption_rate))
        )
        ui.table(cw.effects(res), "segments.uplift")

st.subheader(t("sg_export_title"))
export_cols = ["user_id", "community_id", "persona", "reason_key", "rfm", "r_score", "f_score"]
export_cols += ["m_score", "recency_days", "frequency", "monetary", "margin", "basket_value"]
export_cols += ["lines_per_order", "discount_share", "interval_days", "trend", "tags"]
if has_churn:
    export_cols += ["churn_prob", "driver_1", "driver_2", "driver_3"]
ui.download_buttons(users[export_cols], "linli_user_segments", key="sg_export")
