"""关联推荐 Baskets: association rules, a network of strong rules, bundles, also-bought."""

from __future__ import annotations

import streamlit as st

from dashboard import basket as bk
from dashboard import components as ui
from dashboard import db
from dashboard.i18n import t

version = db.data_version()
f = ui.page_header("page_basket", period=True)
c1, c2, c3, c4, c5 = st.columns([1.2, 2, 1.2, 1.6, 1.2])
level = ui.segmented("bk_level", ["sku", "category"], "bk_level", prefix="bk_level_", where=c1)
types = tuple(
    c2.multiselect(
        t("bk_types"),
        bk.community_types(version),
        format_func=lambda x: t("type_" + x),
        key="bk_types",
        placeholder=t("bk_all_types"),
    )
)
min_support = c3.number_input(
    t("bk_min_support"),
    min_value=0.0005,
    max_value=1.0,
    value=0.005,
    step=0.001,
    format="%.4f",
    key="bk_support",
)
min_conf = c4.slider(t("bk_min_confidence"), 0.0, 1.0, 0.3, 0.05, key="bk_conf")
max_len = c5.selectbox(t("bk_max_len"), [2, 3, 4], index=1, key="bk_max_len")

# Regional managers see only their regions, whatever the filter says.
scope = (version, f.start, f.end, bk.allowed_regions(f.regions), types, level)
item_table = bk.items(*scope)
if item_table.empty:
    ui.stop_note("bk_no_orders")
try:
    with st.spinner():
        found = bk.rules(*scope, float(min_support), float(min_conf), int(max_len))
except ValueError as exc:
    st.warning(f"**{t('bk_too_large')}** — {exc}", icon=":material/warning:")
    st.stop()

n_orders = len(bk.transactions(*scope)["order_id"].unique())
top_lift = None if found.empty else found["lift"].iloc[0]
cards = [ui.card("bk_orders", n_orders), ui.card("bk_items", len(item_table))]
cards += [ui.card("bk_rules", len(found)), ui.card("bk_top_lift", top_lift, "num2")]
ui.kpi_row(cards, per_row=4)
tab_rules, tab_net, tab_bundles, tab_also = st.tabs(
    [t("bk_tab_rules"), t("bk_tab_network"), t("bk_tab_bundles"), t("bk_tab_also")]
)

with tab_rules:
    if found.empty:
        ui.empty_note("bk_no_rules")
    else:
        s1, s2, s3 = st.columns([2, 1, 1])
        search = s1.text_input(t("bk_search"), key="bk_search")
        # Labels as options (no format_func): AppTest formats options outside the run.
        sort_labels = {t("col_" + k): k for k in bk.SORT_KEYS}
        sort = sort_labels[s2.selectbox(t("bk_sort"), list(sort_labels), key="bk_sort")]
        min_lift = s3.number_input(t("bk_min_lift"), 0.0, value=1.0, step=0.5, key="bk_lift")
        shown = bk.readable(bk.filter_rules(found, search, float(min_lift), sort))
        ui.table(shown, "basket", download="linli_basket_rules")

with tab_net:
    if found.empty:
        ui.empty_note("bk_no_rules")
    else:
        top = st.slider(t("bk_network_top"), 5, 100, 30, 5, key="bk_net_top")
        st.plotly_chart(bk.network(found, top), width="stretch", key="bk_network")
        st.caption(t("bk_network_note"))

with tab_bundles:
    st.caption(t("bk_bundles_note"))
    with st.spinner():
        bundles = bk.bundles(*scope, float(min_support), float(min_conf), 10)
    if bundles.empty or "size" not in bundles.columns:
        ui.empty_note("bk_no_rules")
    else:
        table = bk.readable(bundles)
        table["community_type"] = table["community_type"].map(lambda x: t("type_" + x))
        ui.table(table, "basket", download="linli_basket_bundles")

with tab_also:
    a1, a2 = st.columns([3, 1])
    item = a1.selectbox(t("bk_item"), item_table["item"].tolist(), key="bk_also_item")
    top_n = a2.number_input(t("bk_top_n"), 1, 50, 10, key="bk_also_top")
    also = bk.readable(bk.also_bought(*scope, item, int(top_n)))
    ui.table(also, "basket", download="linli_basket_also_bought")
