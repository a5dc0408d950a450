"""明日计划 Tomorrow's plan: per-community group-buy lists, supplier orders, routes, feedback."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import actions, auth, charts, db, gaps, nav
from dashboard import components as ui
from dashboard import dispatch as dd
from dashboard import forecast as fcd
from dashboard import outcomes as oc
from dashboard import plan as svc
from dashboard.i18n import t
from engine import planning

version = db.data_version()
ui.page_header("page_plan")
fcd.warm(version)  # the plan's demand model: fitted in the background, once per data version
blocked = gaps.note(version, "plan")

rules = svc.saved_rules(version)
c1, c2, c3, c4 = st.columns([1, 3, 1, 1])
sale_date = c1.date_input(t("pl_date"), value=svc.default_date(version), key="pl_date")
default_label = t("pl_rule_default")
choice = c2.selectbox(t("pl_rule"), [default_label, *rules["name"].tolist()], key="pl_rule")
rule_text = (
    planning.DEFAULT_RULE if choice == default_label else rules.set_index("name").at[choice, "text"]
)
target = c3.slider(t("pl_target"), 0.5, 0.99, 0.9, 0.01, key="pl_target")
per = c4.number_input(t("pl_per_community"), 3, 30, 10, key="pl_per")
st.caption(f"{t('pl_rule_text')}: `{rule_text}`")
with st.expander(t("dc_costs")):
    k1, k2, k3, k4 = st.columns(4)
    handling = k1.number_input(t("dc_handling"), 0.0, 20.0, 0.5, 0.1, key="pl_handling")
    stop = k2.number_input(t("dc_stop_cost"), 0.0, 1000.0, 0.0, 5.0, key="pl_stop")
    commission = k3.number_input(t("dc_commission"), 0.0, 0.5, 0.0, 0.01, key="pl_commission")
    widen = k4.number_input(t("dc_widen"), 0.0, 1.0, 0.0, 0.05, key="pl_widen")

run = st.button(
    t("pl_run"), type="primary", icon=":material/play_arrow:", key="pl_run", disabled=blocked
)
if run:
    bar = st.progress(0.0, text=t("pl_running"))
    settings = planning.PlanSettings(
        rule_text=rule_text, target=float(target), per_community=int(per), widen=float(widen),
        handling_per_order=float(handling), stop_cost=float(stop) or None,
        commission=float(commission) or None,
    )  # fmt: skip
    try:
        plan = svc.build(
            sale_date,
            settings,
            auth.scope(),
            lambda step, frac: bar.progress(min(frac, 1.0), text=f"{t('pl_running')} {step}"),
        )
    except ValueError as exc:
        bar.empty()
        st.error(str(exc))
        st.stop()
    bar.empty()
    st.session_state["pl_plan"] = plan
    st.session_state["pl_saved"] = svc.save(plan)

plan = st.session_state.get("pl_plan")
if plan is None:
    st.info(t("pl_hint"), icon=":material/info:")
else:
    head = planning.summarise(plan)
    cards = [
        ("pl_communities", "communities", "count"), ("pl_items", "items", "count"),
        ("pl_exp_gmv", "expected_gmv", "money"), ("pl_exp_margin", "expected_margin", "money"),
        ("pl_mean_success", "mean_p_success", "pct"), ("pl_diversity", "diversity", "num2"),
        ("pl_suppliers", "suppliers", "count"), ("pl_purchase_units", "purchase_units", "count"),
    ]  # fmt: skip
    ui.kpi_row([ui.card(key, head[c], unit) for key, c, unit in cards])
    for key, params in plan.notes:
        st.caption(t(key, **params))
    tab1, tab2, tab3 = st.tabs([t("pl_tab_lists"), t("pl_tab_suppliers"), t("pl_tab_routes")])
    with tab1:
        it = plan.items.copy()
        names = svc.communities(version)
        it = it.merge(names, on="community_id")
        mix = it.groupby(["type", "category"]).size().reset_index(name="items")
        mix["type"] = mix["type"].map(lambda x: t("type_" + x))
        fig = px.bar(
            mix,
            x="type",
            y="items",
            color="category",
            height=320,
            labels={"type": t("col_type"), "items": t("pl_items"), "category": t("col_category")},
        )
        charts.show(charts.style(fig, 320, h_legend=False), "pl_mix")
        pick = st.selectbox(t("col_community"), sorted(it["community"].unique()), key="pl_comm")
        cols = ["rank", "name", "category", "source", "price", "threshold", "expected_units"]
        shown = it.loc[
            it["community"] == pick,
            [*cols, "p_success", "expected_gmv", "expected_margin", "expected_net_margin",
             "extrapolated"],
        ]  # fmt: skip
        ui.table(shown, "plan.items")
        ui.download_buttons(it, f"linli_plan_{plan.sale_date}", key="pl_items")
    with tab2:
        ui.table(plan.suppliers, "plan.suppliers")
        st.caption(t("pl_safety_note"))
        po_name = f"linli_purchase_{plan.sale_date}"
        ui.table(plan.purchase, "plan.purchase", download=po_name, key="pl_po")
    with tab3:
        if plan.routes is None or plan.routes.routes.empty:
            ui.empty_note("pl_no_routes")
        else:
            ui.table(dd.routes_table(plan.routes), "dispatch")
            if len(plan.routes.dropped):
                st.warning(t("pl_dropped", n=len(plan.routes.dropped)))
                ui.table(dd.dropped_table(plan.routes), "dispatch")
        st.page_link(
            str(nav.ROOT / "pages" / "dispatch.py"),
            label=t("pl_to_dispatch"),
            icon=":material/local_shipping:",
        )
    saved = st.session_state.get("pl_saved")
    user = auth.current_user()
    if saved and st.button(t("pl_approve"), icon=":material/check_circle:", key="pl_approve"):
        svc.approve(saved, user.username if user else "demo")
        st.success(t("pl_approved", plan_id=saved))
        try:
            res = actions.publish_plan(saved, user.username if user else "demo", plan.purchase)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.success(t("act_published", **res.as_dict()), icon=":material/send:")

st.subheader(t("pl_history"))
hist = svc.history()
ui.table(hist, "plan.history", empty="pl_history_empty")
if done := oc.scored(hist):
    st.subheader(t("oc_title"))
    rows, browsed = oc.outcome(st.selectbox(t("oc_plan"), done, key="oc_plan"))
    st.caption(t("oc_caption" if browsed else "oc_no_browsing"))
    ui.table(rows, "plan.outcome")
