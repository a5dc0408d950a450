"""定价模拟 Pricing: price curves with the optimum, scenarios, clearance planner, elasticities."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import auth, db, state
from dashboard import components as ui
from dashboard import pricing as pr
from dashboard.i18n import t
from engine.pricing import whatif

f = state.filters()
version = db.data_version()
st.title(t("page_pricing"))
with st.spinner(t("pr_fitting")):
    info = pr.model_info(version)
st.caption(t("pr_model_note", start=info["start"], end=info["end"]))

regions = auth.scope().clip_regions(f.regions)
comm = pr.communities(version, regions)
if comm.empty:
    ui.empty_note("pr_no_communities")
    st.stop()
comm_ids = tuple(int(c) for c in comm["community_id"])
cat = pr.skus(version).set_index("sku_id")
popular = pr.popular_skus(version)


def sku_label(sku_id: int) -> str:
    """SKU name with its category."""
    return f"{cat.at[sku_id, 'name']}（{cat.at[sku_id, 'category']}）"


METRIC_LABELS = {
    "units": t("pr_units"),
    "p_success": t("pr_p_success"),
    "sold": t("pr_sold"),
    "gmv": t("pr_gmv"),
    "net": t("pr_net"),
    "margin": t("pr_margin"),
    "commission": t("pr_commission"),
}
tab_curve, tab_scen, tab_clear, tab_el = st.tabs(
    [t("pr_tab_curve"), t("pr_tab_scenarios"), t("pr_tab_clearance"), t("pr_tab_elasticity")]
)

# ------------------------------------------------------------------ price curve & optimiser
with tab_curve:
    left, right = st.columns([1, 2])
    with left:
        sku = st.selectbox(t("pr_sku"), popular, format_func=sku_label, key="pr_sku")
        keep = st.checkbox(t("pr_threshold_current"), value=True, key="pr_keep_thr")
        thr = None if keep else st.number_input(t("pr_threshold_value"), 1, 200, 2, key="pr_thr")
        coupon = st.number_input(t("pr_coupon"), 0.0, 50.0, 0.0, 0.5, key="pr_coupon")
        target = st.slider(t("pr_target"), 0.5, 0.99, 0.9, 0.01, key="pr_target")
        lo, hi = st.slider(t("pr_price_bounds"), 0.3, 1.5, (0.5, 1.2), 0.05, key="pr_bounds")
        min_margin = st.slider(t("pr_min_margin"), -0.2, 0.6, 0.0, 0.05, key="pr_min_margin")
        # Translated options (not format_func) so the widget state survives a language switch.
        obj_labels = [t("pr_obj_" + o) for o in whatif.OBJECTIVES]
        obj_label = st.radio(t("pr_objective"), obj_labels, horizontal=True, key="pr_objective")
        objective = whatif.OBJECTIVES[obj_labels.index(obj_label)]
        cost = st.number_input(t("pr_campaign_cost"), 0.0, 500.0, 0.0, 5.0, key="pr_cost")
    sku_info = cat.loc[sku]
    lp = float(sku_info["list_price"])
    if coupon >= lo * lp:
        st.warning(t("pr_coupon_too_big"))
        coupon = 0.0
    cv = pr.curve(version, int(sku), comm_ids, thr, float(coupon), float(lo), float(hi))
    best = pr.curve_optimum(cv, objective, float(target))
    with right:
        el = pr.sku_elasticity(version, int(sku))
        ui.kpi_row(
            [
                (t("pr_list_price"), ui.fmt_money(lp, 2), None, True),
                (t("pr_unit_cost"), ui.fmt_money(float(sku_info["unit_cost"]), 2), None, True),
                (t("pr_elasticity"), f"{el:.2f}", None, True),
                (
                    t("pr_optimum"),
                    "—" if best is None else ui.fmt_money(float(best["price"]), 2),
                    None,
                    True,
                ),
            ]
        )
        st.markdown(f"**{t('pr_curve_title')}**")
        fig = make_subplots(
            rows=2,
            cols=2,
            subplot_titles=[t("pr_sold"), t("pr_gmv"), t("pr_margin"), t("pr_p_success")],
            vertical_spacing=0.14,
        )
        spots = [("sold", 1, 1), ("gmv", 1, 2), ("margin", 2, 1), ("p_success", 2, 2)]
        for col, r, c in spots:
            fig.add_trace(
                go.Scatter(
                    x=cv["price"], y=cv[col], name=METRIC_LABELS[col], line={"color": "#3b6ea5"}
                ),
                row=r,
                col=c,
            )
            if best is not None:
                fig.add_trace(
                    go.Scatter(
                        x=[best["price"]],
                        y=[best[col]],
                        mode="markers",
                        marker={"size": 12, "color": "#e4572e", "symbol": "star"},
                        name=t("pr_optimum"),
                        showlegend=col == "sold",
                    ),
                    row=r,
                    col=c,
                )
                fig.add_vline(x=float(best["price"]), line_dash="dot", line_color="#e4572e")
        fig.add_hline(y=target, line_dash="dash", line_color="#999", row=2, col=2)
        fig.update_layout(
            height=520, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"}
        )
        fig.update_xaxes(tickprefix="¥")
        fig.update_yaxes(tickformat=".0%", row=2, col=2)
        st.plotly_chart(fig, width="stretch", key="pr_curve_chart")
        if best is None:
            st.info(t("pr_no_optimum"), icon=":material/info:")

    if st.button(t("pr_run_optimiser"), key="pr_run_opt", type="primary"):
        settings = whatif.OptimiseSettings(
            objective=objective,
            target=float(target),
            price_min=float(lo),
            price_max=float(hi),
            min_margin=float(min_margin),
            campaign_cost=float(cost),
            coupon=float(coupon),
        )
        st.session_state["pr_opt_result"] = pr.optimise(version, int(sku), comm_ids, settings)
    opt = st.session_state.get("pr_opt_result")
    if opt is not None:
        st.subheader(t("pr_opt_title"))
        st.caption(
            t(
                "pr_opt_summary",
                n=len(opt),
                ok=int(opt["feasible"].sum()),
                new=ui.fmt_money(float(opt["margin"].sum())),
                now=ui.fmt_money(float(opt["margin_now"].sum())),
            )
        )
        table = pr.optimum_table(version, opt)
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "community": t("pr_community"),
                "feasible": st.column_config.CheckboxColumn(t("pr_feasible")),
                "price_now": st.column_config.NumberColumn(
                    f"{t('pr_price')}（{t('pr_now')}）", format="¥%.2f"
                ),
                "price": st.column_config.NumberColumn(t("pr_price"), format="¥%.2f"),
                "threshold_now": f"{t('pr_threshold')}（{t('pr_now')}）",
                "threshold": t("pr_threshold"),
                "p_success_now": st.column_config.NumberColumn(
                    f"{t('pr_p_success')}（{t('pr_now')}）", format="percent"
                ),
                "p_success": st.column_config.NumberColumn(t("pr_p_success"), format="percent"),
                "margin_now": st.column_config.NumberColumn(
                    f"{t('pr_margin')}（{t('pr_now')}）", format="¥%.1f"
                ),
                "margin": st.column_config.NumberColumn(t("pr_margin"), format="¥%.1f"),
                "gmv": st.column_config.NumberColumn(t("pr_gmv"), format="¥%.1f"),
            },
        )
        ui.download_buttons(table, "linli_price_optimum")

# ------------------------------------------------------------------ scenarios
with tab_scen:
    picked = st.multiselect(
        t("pr_skus"), popular, default=popular[:10], format_func=sku_label, key="pr_scen_skus"
    )
    c1, c2, c3, c4 = st.columns(4)
    change = c1.slider(t("pr_price_change"), -50, 30, -10, 5, key="pr_scen_change")
    keep_s = c2.checkbox(t("pr_threshold_current"), value=True, key="pr_scen_keep")
    thr_s = None if keep_s else c2.number_input(t("pr_threshold_value"), 1, 200, 1, key="pr_st")
    coupon_s = c3.number_input(t("pr_coupon"), 0.0, 20.0, 0.0, 0.5, key="pr_scen_coupon")
    saved = st.session_state.setdefault("pr_scenarios", [])
    name = c4.text_input(
        t("pr_scenario_name"), t("pr_scenario_default", n=len(saved) + 1), key="pr_scen_name"
    )
    if st.button(t("pr_run_scenario"), key="pr_run_scen", type="primary", disabled=not picked):
        scen = whatif.Scenario(price_change=change / 100, threshold=thr_s, coupon=float(coupon_s))
        try:
            st.session_state["pr_whatif"] = (
                name,
                pr.simulate(version, tuple(int(s) for s in picked), comm_ids, scen),
            )
        except ValueError as exc:
            st.error(str(exc))
    res = st.session_state.get("pr_whatif")
    if res is not None:
        res_name, w = res
        tot = w.totals.set_index("metric")
        cards = []
        for m in ("sold", "gmv", "margin", "p_success", "commission"):
            row = tot.loc[m]
            if m == "p_success":
                val, delta = ui.fmt_pct(row["scenario"]), ui.fmt_delta(row["delta"], "pct")
            else:
                val, delta = ui.fmt_num(row["scenario"]), ui.fmt_delta(row["delta_pct"], "count")
                if m != "sold":
                    val = ui.fmt_money(row["scenario"])
            cards.append((METRIC_LABELS[m], val, delta, m != "commission"))
        st.markdown(f"**{res_name}**")
        ui.kpi_row(cards, per_row=5)
        shown = w.totals.assign(metric=w.totals["metric"].map(METRIC_LABELS))
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "metric": t("pr_metric"),
                "current": st.column_config.NumberColumn(t("pr_now"), format="%,.2f"),
                "scenario": st.column_config.NumberColumn(t("pr_scenario"), format="%,.2f"),
                "delta": st.column_config.NumberColumn(t("pr_delta"), format="%+,.2f"),
                "delta_pct": st.column_config.NumberColumn(t("pr_delta_pct"), format="percent"),
            },
        )
        ui.download_buttons(w.rows, "linli_pricing_scenario", key="pr_scen_rows")
        if st.button(t("pr_save_scenario"), key="pr_save_scen"):
            saved.append(pr.scenario_record(res_name, change, thr_s, coupon_s, len(picked), w))
    st.subheader(t("pr_saved"))
    if not saved:
        ui.empty_note("pr_saved_none")
    else:
        comp = pr.compare_scenarios(saved)
        st.dataframe(comp, hide_index=True, width="stretch")
        bar = go.Figure()
        for m, color in (("gmv", "#3b6ea5"), ("margin", "#17a398")):
            bar.add_trace(
                go.Bar(
                    x=comp["name"],
                    y=comp[m + "_delta"],
                    name=f"Δ {METRIC_LABELS[m]}",
                    marker_color=color,
                )
            )
        bar.update_layout(
            height=300,
            barmode="group",
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            yaxis_tickprefix="¥",
            legend={"orientation": "h"},
        )
        st.plotly_chart(bar, width="stretch", key="pr_scen_chart")
        ui.download_buttons(comp, "linli_pricing_scenarios", key="pr_scen_comp")
        if st.button(t("pr_clear_scenarios"), key="pr_clear_scen"):
            st.session_state["pr_scenarios"] = []
            st.rerun()

# ------------------------------------------------------------------ clearance
with tab_clear:
    perish = pr.perishable_skus(version)
    c1, c2, c3, c4 = st.columns(4)
    sku_c = c1.selectbox(t("pr_sku"), perish, format_func=sku_label, key="pr_clear_sku")
    days = c2.slider(t("pr_days_left"), 1, 14, 3, key="pr_clear_days")
    daily = pr.daily_demand(version, int(sku_c), comm_ids)
    on_hand = c3.number_input(
        t("pr_on_hand"), 0, 20_000, min(20_000, round(2 * daily * days)), key="pr_clear_stock"
    )
    salvage = c4.number_input(t("pr_salvage"), 0.0, 100.0, 0.0, 0.1, key="pr_clear_salvage")
    if st.button(t("pr_run_clearance"), key="pr_run_clear", type="primary"):
        st.session_state["pr_clear_result"] = pr.clearance(
            version, int(sku_c), comm_ids, int(on_hand), int(days), float(salvage)
        )
    plan = st.session_state.get("pr_clear_result")
    if plan is not None:
        vals = plan.baselines.set_index("policy")["value"]
        best_v = float(vals["optimal"])
        ui.kpi_row(
            [
                (t("pr_policy_optimal"), ui.fmt_money(best_v), None, True),
                (
                    t("pr_policy_no_markdown"),
                    ui.fmt_money(float(vals["no_markdown"])),
                    ui.fmt_delta(
                        float(vals["no_markdown"]) / best_v - 1 if best_v else None, "count"
                    ),
                    True,
                ),
                (
                    t("pr_policy_fixed_30"),
                    ui.fmt_money(float(vals["fixed_30"])),
                    ui.fmt_delta(float(vals["fixed_30"]) / best_v - 1 if best_v else None, "count"),
                    True,
                ),
            ],
            per_row=3,
        )
        st.subheader(t("pr_clearance_title"))
        path = plan.path
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_trace(
            go.Bar(x=path["day"], y=path["discount"], name=t("pr_discount"), marker_color="#e4572e")
        )
        fig.add_trace(
            go.Scatter(
                x=path["day"], y=path["stock"], name=t("pr_stock"), line={"color": "#2c3e50"}
            ),
            secondary_y=True,
        )
        fig.update_layout(
            height=320,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            yaxis_tickformat=".0%",
            legend={"orientation": "h"},
        )
        st.plotly_chart(fig, width="stretch", key="pr_clear_chart")
        st.caption(t("pr_left", n=ui.fmt_num(float(path["left_at_expiry"].iloc[0]), 1)))
        tbl = path.drop(columns=["left_at_expiry"])
        st.dataframe(
            tbl,
            hide_index=True,
            width="stretch",
            column_config={
                "day": t("pr_day"),
                "discount": st.column_config.NumberColumn(t("pr_discount"), format="percent"),
                "mean_discount": st.column_config.NumberColumn(
                    t("pr_mean_discount"), format="percent"
                ),
                "stock": st.column_config.NumberColumn(t("pr_stock"), format="%,.1f"),
                "sales": st.column_config.NumberColumn(t("pr_sales"), format="%,.1f"),
                "revenue": st.column_config.NumberColumn(t("pr_revenue"), format="¥%,.0f"),
            },
        )
        ui.download_buttons(tbl, "linli_clearance_plan", key="pr_clear_dl")

# ------------------------------------------------------------------ elasticities
with tab_el:
    by_labels = [t("pr_by_" + g) for g in pr.GROUPINGS]
    by_label = st.selectbox(t("pr_by"), by_labels, key="pr_el_by")
    by = pr.GROUPINGS[by_labels.index(by_label)]
    with st.spinner(t("pr_fitting")):
        el_tab = pr.elasticities(version, by)
    group_col = el_tab.columns[0]
    st.caption(t("pr_elasticity_note"))
    shown_el = el_tab.head(40) if by == "sku" else el_tab
    fig = go.Figure(
        go.Scatter(
            x=shown_el["elasticity"],
            y=shown_el[group_col].astype(str),
            mode="markers",
            marker={"size": 10, "color": "#3b6ea5"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": shown_el["ci_high"] - shown_el["elasticity"],
                "arrayminus": shown_el["elasticity"] - shown_el["ci_low"],
            },
        )
    )
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(fig, width="stretch", key="pr_el_chart")
    el_cfg = {
        "category": t("pr_category"),
        "sku": t("pr_sku"),
        "segment": t("pr_by_" + by),
        "community_type": t("pr_by_community_type"),
    }
    st.dataframe(
        el_tab,
        hide_index=True,
        width="stretch",
        column_config={
            **el_cfg,
            "elasticity": st.column_config.NumberColumn(t("pr_elasticity"), format="%.2f"),
            "raw": st.column_config.NumberColumn(t("pr_raw"), format="%.2f"),
            "se": None,
            "ci_low": st.column_config.NumberColumn(f"{t('pr_ci')} ↓", format="%.2f"),
            "ci_high": st.column_config.NumberColumn(f"{t('pr_ci')} ↑", format="%.2f"),
            "n_campaigns": st.column_config.NumberColumn(t("pr_n_campaigns"), format="%,d"),
        },
    )
    ui.download_buttons(el_tab, "linli_elasticities", key="pr_el_dl")
