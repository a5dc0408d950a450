"""定价模拟, tab 2: a price/threshold/coupon scenario against the plan, saved side by side."""

from __future__ import annotations

import streamlit as st

from dashboard import charts
from dashboard import components as ui
from dashboard import pricing as pr
from dashboard.i18n import t
from dashboard.views.pricing import PricingContext, metric_label
from engine.pricing import whatif

CARD_METRICS = ("sold", "gmv", "margin", "p_success", "commission")


def render(ctx: PricingContext) -> None:
    """Scenario settings, the last scenario's totals, and the saved scenarios compared."""
    picked = st.multiselect(
        t("pr_skus"),
        ctx.popular,
        default=ctx.popular[:10],
        format_func=ctx.sku_label,
        key="pr_scen_skus",
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
            skus = tuple(int(s) for s in picked)
            w = pr.simulate(ctx.version, skus, ctx.community_ids, scen)
            st.session_state["pr_whatif"] = (name, w)
        except ValueError as exc:
            st.error(str(exc))
    res = st.session_state.get("pr_whatif")
    if res is not None:
        res_name, w = res
        st.markdown(f"**{ui.md(res_name)}**")
        n_out = int(w.rows["extrapolated"].sum()) if "extrapolated" in w.rows else 0
        if n_out:
            st.warning(t("dc_scenario_extrapolated", n=n_out), icon=":material/warning:")
        ui.kpi_row(scenario_cards(w.totals.set_index("metric")), per_row=5)
        shown = w.totals.assign(metric=w.totals["metric"].map(metric_label))
        ui.table(shown, "pricing.totals")
        ui.download_buttons(w.rows, "linli_pricing_scenario", key="pr_scen_rows")
        if st.button(t("pr_save_scenario"), key="pr_save_scen"):
            saved.append(pr.scenario_record(res_name, change, thr_s, coupon_s, len(picked), w))
    st.subheader(t("pr_saved"))
    if not saved:
        ui.empty_note("pr_saved_none")
        return
    comp = pr.compare_scenarios(saved)
    ui.table(comp, "pricing.scenarios")
    deltas = [
        {"x": comp["name"], "y": comp[m + "_delta"], "name": f"Δ {metric_label(m)}", "color": c}
        for m, c in (("gmv", charts.BLUE), ("margin", charts.TEAL))
    ]
    charts.show(charts.bars(deltas, height=300, y="yuan"), "pr_scen_chart")
    ui.download_buttons(comp, "linli_pricing_scenarios", key="pr_scen_comp")
    if st.button(t("pr_clear_scenarios"), key="pr_clear_scen"):
        st.session_state["pr_scenarios"] = []
        st.rerun()


def scenario_cards(tot) -> list[tuple[str, str, str | None, bool]]:
    """KPI cards of a scenario's totals: the value and its change against the plan."""
    cards = []
    for m in CARD_METRICS:
        row = tot.loc[m]
        if m == "p_success":
            val, delta = ui.fmt_pct(row["scenario"]), ui.fmt_delta(row["delta"], "pct")
        else:
            unit = "count" if m == "sold" else "money"
            val, delta = (
                ui.fmt_value(row["scenario"], unit),
                ui.fmt_delta(row["delta_pct"], "count"),
            )
        cards.append((metric_label(m), val, delta, m != "commission"))
    return cards
