"""定价模拟 Pricing: price curves with the optimum, scenarios, clearance planner, elasticities."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, db, gaps
from dashboard import components as ui
from dashboard import pricing as pr
from dashboard.i18n import t
from dashboard.views import pricing_clearance, pricing_curve, pricing_elasticity, pricing_scenarios
from dashboard.views.pricing import PricingContext

version = db.data_version()
f = ui.page_header("page_pricing")
gaps.stop(version, "pricing")
with st.spinner(t("pr_fitting")):
    info = pr.model_info(version)
st.caption(t("pr_model_note", start=info["start"], end=info["end"]))

regions = auth.scope().clip_regions(f.regions)
comm = pr.communities(version, regions)
if comm.empty:
    ui.stop_note("pr_no_communities")
ctx = PricingContext(
    version,
    tuple(int(c) for c in comm["community_id"]),
    pr.skus(version).set_index("sku_id"),
    pr.popular_skus(version),
)

tabs = st.tabs(
    [t("pr_tab_curve"), t("pr_tab_scenarios"), t("pr_tab_clearance"), t("pr_tab_elasticity")]
)
views = (pricing_curve, pricing_scenarios, pricing_clearance, pricing_elasticity)
for tab, view in zip(tabs, views, strict=True):
    with tab:
        view.render(ctx)
