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
    stock = pr.near_expiry(ctx.version)
    c1, c2, c3, c4 = st.columns(4)
    lots = [None, *stock.index.tolist()]

    def lot_label(i: int | None) -> str:
        if i is None:
            return t("dc_manual")
        r = stock.loc[i]
        return t("dc_lot", sku=r["name"], wh=int(r["warehouse_id"]), n=int(r["expiring"]),
                 days=int(r["days_left"]))  # fmt: skip

    lot = c1.selectbox(
        t("dc_near_expiry"), lots, index=min(1, len(lots) - 1), format_func=lot_label,
        key="pr_clear_lot",
    )  # fmt: skip
    if lot is None:
        perish = pr.perishable_skus(ctx.version)
        sku = c1.selectbox(t("pr_sku"), perish, format_func=ctx.sku_label, key="pr_clear_sku")
        wh, days0, units0 = None, 3, None
    else:
        r = stock.loc[lot]
        sku, wh = int(r["sku_id"]), int(r["warehouse_id"])
        days0, units0 = max(1, min(14, int(r["days_left"]))), int(r["expiring"])
    comms = pr.listed(ctx.version, int(sku), wh, ctx.community_ids)
    if not comms:
        st.info(t("dc_not_listed"), icon=":material/info:")
        return
    st.caption(t("dc_listed_in", n=len(comms)))
    days = c2.slider(t("pr_days_left"), 1, 14, days0, key="pr_clear_days")
    daily = pr.daily_demand(ctx.version, int(sku), comms)
    default = units0 if units0 is not None else min(20_000, round(2 * daily * days))
    on_hand = c3.number_input(t("pr_on_hand"), 0, 20_000, default, key="pr_clear_stock")
    salvage = c4.number_input(t("pr_salvage"), 0.0, 100.0, 0.0, 0.1, key="pr_clear_salvage")
    if st.button(t("pr_run_clearance"), key="pr_run_clear", type="primary"):
        st.session_state["pr_clear_result"] = pr.clearance(
            ctx.version, int(sku), comms, int(on_hand), int(days), float(salvage)
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
