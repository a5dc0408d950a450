"""定价模拟, tab 1: one SKU's price curve with the optimum, and the per-community optimiser."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import charts
from dashboard import components as ui
from dashboard import pricing as pr
from dashboard.i18n import t
from dashboard.views.pricing import PricingContext, metric_label
from engine.pricing import whatif

# Where each metric sits in the 2 × 2 grid of curves.
SPOTS = (("sold", 1, 1), ("gmv", 1, 2), ("margin", 2, 1), ("p_success", 2, 2))


def render(ctx: PricingContext) -> None:
    """Settings on the left, KPI cards and the curves on the right, the optimiser below."""
    left, right = st.columns([1, 2])
    with left:
        sku = st.selectbox(t("pr_sku"), ctx.popular, format_func=ctx.sku_label, key="pr_sku")
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
        extrapolate = st.checkbox(t("dc_allow_extrapolation"), False, key="pr_extrapolate")
    sku_info = ctx.catalogue.loc[sku]
    lp = float(sku_info["list_price"])
    if coupon >= lo * lp:
        st.warning(t("pr_coupon_too_big"))
        coupon = 0.0
    cv = pr.curve(
        ctx.version, int(sku), ctx.community_ids, thr, float(coupon), float(lo), float(hi)
    )
    best = pr.curve_optimum(cv, objective, float(target), evidence=not extrapolate)
    o_lo, o_hi, o_src = pr.observed_range(ctx.version, int(sku))
    with right:
        el = pr.sku_elasticity(ctx.version, int(sku))
        optimum = None if best is None else float(best["price"])
        cards = [ui.card("pr_list_price", lp, "money2")]
        cards += [ui.card("pr_unit_cost", float(sku_info["unit_cost"]), "money2")]
        cards += [ui.card("pr_elasticity", el, "num2"), ui.card("pr_optimum", optimum, "money2")]
        ui.kpi_row(cards)
        st.markdown(f"**{t('pr_curve_title')}**")
        charts.show(curve_figure(cv, best, float(target), (o_lo, o_hi)), "pr_curve_chart")
        st.caption(
            t("dc_observed_range", lo=ui.fmt_money(o_lo, 2), hi=ui.fmt_money(o_hi, 2))
            + " · "
            + t("dc_range_" + o_src)
        )
        if best is None:
            st.info(t("pr_no_optimum"), icon=":material/info:")
        elif bool(best.get("extrapolated", False)):
            st.warning(t("dc_extrapolated_optimum"), icon=":material/warning:")

    if st.button(t("pr_run_optimiser"), key="pr_run_opt", type="primary"):
        settings = whatif.OptimiseSettings(
            objective=objective,
            target=float(target),
            price_min=float(lo),
            price_max=float(hi),
            min_margin=float(min_margin),
            campaign_cost=float(cost),
            coupon=float(coupon),
            evidence=not extrapolate,
        )
        result = pr.optimise(ctx.version, int(sku), ctx.community_ids, settings)
        st.session_state["pr_opt_result"] = result
    opt = st.session_state.get("pr_opt_result")
    if opt is not None:
        st.subheader(t("pr_opt_title"))
        new, now = (
            ui.fmt_money(float(opt["margin"].sum())),
            ui.fmt_money(float(opt["margin_now"].sum())),
        )
        st.caption(t("pr_opt_summary", n=len(opt), ok=int(opt["feasible"].sum()), new=new, now=now))
        n_out = int(opt["extrapolated"].sum()) if "extrapolated" in opt else 0
        if n_out:
            st.warning(t("dc_extrapolated_rows", n=n_out), icon=":material/warning:")
        st.caption(t("dc_costs_note"))
        table = pr.optimum_table(ctx.version, opt)
        ui.table(table, "pricing.optimum", download="linli_price_optimum")


def curve_figure(
    cv: pd.DataFrame,
    best: pd.Series | None,
    target: float,
    observed: tuple[float, float] | None = None,
) -> go.Figure:
    """Units sold, GMV, margin and success probability against price, the optimum starred,
    the observed price range shaded (outside it the curve is an extrapolation)."""
    titles = [t("pr_sold"), t("pr_gmv"), t("pr_margin"), t("pr_p_success")]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, vertical_spacing=0.14)
    for col, r, c in SPOTS:
        line = go.Scatter(
            x=cv["price"], y=cv[col], name=metric_label(col), line={"color": charts.BLUE}
        )
        fig.add_trace(line, row=r, col=c)
        if best is not None:
            star = go.Scatter(
                x=[best["price"]],
                y=[best[col]],
                mode="markers",
                marker={"size": 12, "color": charts.RED, "symbol": "star"},
                name=t("pr_optimum"),
                showlegend=col == "sold",
            )
            fig.add_trace(star, row=r, col=c)
            fig.add_vline(x=float(best["price"]), line_dash="dot", line_color=charts.RED)
    if observed is not None and all(map(math.isfinite, observed)):
        fig.add_vrect(
            x0=observed[0], x1=observed[1], fillcolor=charts.BLUE, opacity=0.08, line_width=0,
            row="all", col="all",
        )  # fmt: skip
    fig.add_hline(y=target, line_dash="dash", line_color="#999", row=2, col=2)
    fig.update_xaxes(tickprefix="¥")
    fig.update_yaxes(tickformat=".0%", row=2, col=2)
    return charts.style(fig, 520, top=40)
