"""明日计划 Tomorrow's plan: per-community group-buy lists, supplier orders, routes, feedback."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import auth, db, nav
from dashboard import components as ui
from dashboard import dispatch as dd
from dashboard import plan as svc
from dashboard.i18n import t
from engine import planning

version = db.data_version()
st.title(t("page_plan"))

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

if st.button(t("pl_run"), type="primary", icon=":material/play_arrow:", key="pl_run"):
    bar = st.progress(0.0, text=t("pl_running"))
    settings = planning.PlanSettings(
        rule_text=rule_text, target=float(target), per_community=int(per)
    )
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
    ui.kpi_row(
        [
            (t("pl_communities"), ui.fmt_num(head["communities"]), None, True),
            (t("pl_items"), ui.fmt_num(head["items"]), None, True),
            (t("pl_exp_gmv"), ui.fmt_money(head["expected_gmv"]), None, True),
            (t("pl_exp_margin"), ui.fmt_money(head["expected_margin"]), None, True),
            (t("pl_mean_success"), ui.fmt_pct(head["mean_p_success"]), None, True),
            (t("pl_diversity"), f"{head['diversity']:.2f}", None, True),
            (t("pl_suppliers"), ui.fmt_num(head["suppliers"]), None, True),
            (t("pl_purchase_units"), ui.fmt_num(head["purchase_units"]), None, True),
        ]
    )
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
        fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(fig, width="stretch", key="pl_mix")
        pick = st.selectbox(t("col_community"), sorted(it["community"].unique()), key="pl_comm")
        show = it[it["community"] == pick][
            [
                "rank",
                "name",
                "category",
                "source",
                "price",
                "threshold",
                "expected_units",
                "p_success",
                "expected_gmv",
                "expected_margin",
            ]
        ]
        st.dataframe(
            show,
            hide_index=True,
            width="stretch",
            column_config={
                "rank": "#",
                "name": t("pl_col_sku"),
                "category": t("col_category"),
                "source": t("pl_col_source"),
                "price": st.column_config.NumberColumn(t("pl_col_price"), format="¥%.2f"),
                "threshold": t("pl_col_threshold"),
                "expected_units": st.column_config.NumberColumn(t("pl_col_units"), format="%.1f"),
                "p_success": st.column_config.NumberColumn(t("pl_col_success"), format="percent"),
                "expected_gmv": st.column_config.NumberColumn(t("col_gmv"), format="¥%,.0f"),
                "expected_margin": st.column_config.NumberColumn(
                    t("col_gross_margin"), format="¥%,.0f"
                ),
            },
        )
        ui.download_buttons(it, f"linli_plan_{plan.sale_date}", key="pl_items")
    with tab2:
        st.dataframe(
            plan.suppliers,
            hide_index=True,
            width="stretch",
            column_config={
                "supplier_id": None,
                "supplier": t("pl_col_supplier"),
                "lead_time_days": t("pl_col_lead"),
                "lines": t("pl_col_lines"),
                "units": t("pl_col_order_units"),
                "cost": st.column_config.NumberColumn(t("pl_col_cost"), format="¥%,.0f"),
            },
        )
        st.caption(t("pl_safety_note"))
        st.dataframe(
            plan.purchase,
            hide_index=True,
            width="stretch",
            column_config={
                "supplier_id": None,
                "sku_id": None,
                "warehouse_id": t("pl_col_warehouse"),
                "name": t("pl_col_sku"),
                "expected_units": st.column_config.NumberColumn(
                    t("pl_col_expected"), format="%.1f"
                ),
                "safety_stock": st.column_config.NumberColumn(t("pl_col_safety"), format="%.1f"),
                "on_hand": t("pl_col_on_hand"),
                "order_qty": t("pl_col_order_qty"),
                "shelf_life_days": t("pl_col_shelf"),
                "pack_size": t("pl_col_pack"),
                "unit_cost": st.column_config.NumberColumn(t("pl_col_unit_cost"), format="¥%.2f"),
            },
        )
        ui.download_buttons(plan.purchase, f"linli_purchase_{plan.sale_date}", key="pl_po")
    with tab3:
        if plan.routes is None or plan.routes.routes.empty:
            ui.empty_note("pl_no_routes")
        else:
            st.dataframe(
                dd.routes_table(plan.routes),
                hide_index=True,
                width="stretch",
                column_config=dd.routes_columns(),
            )
            if len(plan.routes.dropped):
                st.warning(t("pl_dropped", n=len(plan.routes.dropped)))
                st.dataframe(
                    dd.dropped_table(plan.routes),
                    hide_index=True,
                    width="stretch",
                    column_config=dd.column_labels(),
                )
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

st.subheader(t("pl_history"))
hist = svc.history()
if hist.empty:
    ui.empty_note("pl_history_empty")
else:
    st.dataframe(
        hist,
        hide_index=True,
        width="stretch",
        column_config=svc.history_columns(),
    )
