"""定价模拟, tab 3: a markdown path for near-expiry stock against two fixed policies."""

from __future__ import annotations

import streamlit as st

from dashboard import charts
from dashboard import components as ui
from dashboard import pricing as pr
from dashboard.i18n import t
from dashboard.views.pricing import PricingContext


def render(ctx: PricingContext) -> None:
    """Stock, days left and salvage value in; the best discount path and its value out."""
    perish = pr.perishable_skus(ctx.version)
    c1, c2, c3, c4 = st.columns(4)
    sku = c1.selectbox(t("pr_sku"), perish, format_func=ctx.sku_label, key="pr_clear_sku")
    days = c2.slider(t("pr_days_left"), 1, 14, 3, key="pr_clear_days")
    daily = pr.daily_demand(ctx.version, int(sku), ctx.community_ids)
    on_hand = c3.number_input(
        t("pr_on_hand"), 0, 20_000, min(20_000, round(2 * daily * days)), key="pr_clear_stock"
    )
    salvage = c4.number_input(t("pr_salvage"), 0.0, 100.0, 0.0, 0.1, key="pr_clear_salvage")
    if st.button(t("pr_run_clearance"), key="pr_run_clear", type="primary"):
        st.session_state["pr_clear_result"] = pr.clearance(
            ctx.version, int(sku), ctx.community_ids, int(on_hand), int(days), float(salvage)
        )
    plan = st.session_state.get("pr_clear_result")
    if plan is None:
        return
    vals = plan.baselines.set_index("policy")["value"]
    best = float(vals["optimal"])
    cards = [ui.card("pr_policy_optimal", best, "money")]
    for policy in ("no_markdown", "fixed_30"):
        value = float(vals[policy])
        delta = ui.fmt_delta(value / best - 1 if best else None, "count")
        cards.append(ui.card("pr_policy_" + policy, value, "money", delta))
    ui.kpi_row(cards, per_row=3)
    st.subheader(t("pr_clearance_title"))
    path = plan.path
    fig = charts.bar_line(
        path["day"],
        path["discount"],
        path["stock"],
        names=(t("pr_discount"), t("pr_stock")),
        colors=(charts.RED, charts.NAVY),
        y="pct",
    )
    charts.show(fig, "pr_clear_chart")
    st.caption(t("pr_left", n=ui.fmt_num(float(path["left_at_expiry"].iloc[0]), 1)))
    tbl = path.drop(columns=["left_at_expiry"])
    ui.table(tbl, "pricing.clearance", download="linli_clearance_plan", key="pr_clear_dl")
