"""社区画像 Communities: one community's profile or 2–4 side by side, with a density map."""

from __future__ import annotations

import plotly.express as px
import pydeck as pdk
import streamlit as st

from dashboard import components as ui
from dashboard import db, state
from dashboard import segments as sw
from dashboard.i18n import t

f = state.filters()
version = db.data_version()
# Regional managers see only their regions, whatever the filter says.
regions = sw.allowed_regions(f.regions)
st.title(t("page_communities"))
if f.start > f.end:
    st.warning(t("no_data_period"))
    st.stop()

try:
    table = sw.community_table(version, f.start, f.end, regions)
except ValueError as exc:
    st.warning(f"{t('cp_cannot_profile')} — {exc}", icon=":material/warning:")
    st.stop()
metrics = table.metrics
if metrics.empty:
    ui.empty_note("cp_no_communities")
    st.stop()
names = dict(zip(metrics["community_id"], metrics["name"], strict=True))

mode = (
    st.segmented_control(
        t("cp_mode"),
        ["one", "compare"],
        default="one",
        format_func=lambda m: t("cp_mode_" + m),
        key="cp_mode",
    )
    or "one"
)


def draw_map(selected: tuple[int, ...]) -> None:
    """Density of orders on H3 hexagons, pickup points and warehouses (no basemap needed)."""
    st.subheader(t("cp_map_title"))
    md = sw.density(version, f.start, f.end, regions, selected)
    if md.hexes.empty:
        ui.empty_note("no_data_period")
        return
    hexes = md.hexes.assign(
        weight=md.hexes["orders"] / max(md.hexes["orders"].max(), 1),
    )
    layers = [
        pdk.Layer(
            "H3HexagonLayer",
            hexes,
            id="cp_hex",
            get_hexagon="hex",
            get_fill_color="[228, 87, 46, 60 + 195 * weight]",
            get_line_color="[30, 30, 30, selected ? 255 : 40]",
            line_width_min_pixels=1,
            extruded=False,
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            md.pickups,
            id="cp_pickups",
            get_position="[lon, lat]",
            get_radius=60,
            radius_min_pixels=3,
            get_fill_color="[23, 163, 152, selected ? 255 : 120]",
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            md.warehouses,
            id="cp_warehouses",
            get_position="[lon, lat]",
            get_radius=180,
            radius_min_pixels=6,
            get_fill_color="[44, 62, 80, 230]",
            pickable=True,
        ),
    ]
    deck = pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(
            latitude=md.centre[0], longitude=md.centre[1], zoom=11, pitch=0
        ),
        map_provider=None,
        tooltip={"text": "{communities}{name}\n{orders} " + t("col_paid_orders")},
    )
    st.pydeck_chart(deck, key="cp_map")
    st.caption(t("cp_map_note"))


if mode == "one":
    cid = st.selectbox(
        t("col_community"),
        list(names),
        format_func=lambda c: names.get(c, str(c)),
        key="cp_community",
    )
    try:
        with st.spinner(t("sg_computing")):
            prof = sw.profile(version, f.start, f.end, regions, int(cid))
    except ValueError as exc:
        st.info(f"{t('cp_cannot_profile')} — {exc}", icon=":material/info:")
        st.stop()
    info = prof.info
    st.caption(
        t(
            "cp_info",
            type=t("type_" + info["type"]),
            region=info["region"],
            leader=info.get("leader") or "—",
            rate=ui.fmt_pct(info.get("commission_rate")),
        )
    )
    ui.kpi_row(
        [
            (t("cp_households"), ui.fmt_num(info["households"]), None, True),
            (t("col_active_buyers"), ui.fmt_num(info["active_buyers"]), None, True),
            (t("cp_penetration"), ui.fmt_pct(info["penetration"]), None, True),
            (t("col_gmv"), ui.fmt_money(info["gmv"]), None, True),
            (t("kpi_aov"), ui.fmt_money(info["aov"], 1), None, True),
            (t("col_group_success_rate"), ui.fmt_pct(info["group_success_rate"]), None, True),
            (t("cp_price_band"), t("band_" + str(info["price_band"])), None, True),
            (t("cp_avg_unit_price"), ui.fmt_money(info["avg_unit_price"], 1), None, True),
        ],
        per_row=4,
    )
    st.subheader(t("cp_leader_title"))
    ui.kpi_row(
        [
            (t("col_gmv"), ui.fmt_money(info["gmv"]), None, True),
            (t("kpi_leader_commission"), ui.fmt_money(info["commission"]), None, True),
            (t("col_on_time_rate"), ui.fmt_pct(info["on_time_rate"]), None, True),
            (t("kpi_pickup_hours"), ui.fmt_value(info["pickup_hours"], "hours"), None, False),
            (t("kpi_nps"), ui.fmt_num(info["nps"], 1), None, True),
        ],
        per_row=5,
    )

    st.subheader(t("cp_categories_title"))
    cats = prof.categories
    fig = px.bar(
        cats.sort_values("preference_index"),
        x="preference_index",
        y="category",
        orientation="h",
        labels={"preference_index": t("cp_pref_index"), "category": ""},
    )
    fig.add_vline(x=1.0, line_dash="dot")
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    c1, c2 = st.columns(2)
    c1.plotly_chart(fig, width="stretch", key="cp_cats")
    cat_cfg = {
        "category": t("col_category"),
        "gmv": st.column_config.NumberColumn(t("col_gmv"), format="¥%,.0f"),
        "units": st.column_config.NumberColumn(t("cp_units"), format="%,d"),
        "share": st.column_config.NumberColumn(t("cp_share"), format="percent"),
        "unit_share": st.column_config.NumberColumn(t("cp_unit_share"), format="percent"),
        "region_share": st.column_config.NumberColumn(t("cp_region_share"), format="percent"),
        "preference_index": st.column_config.NumberColumn(t("cp_pref_index"), format="%.2f"),
    }
    c2.dataframe(cats, hide_index=True, width="stretch", column_config=cat_cfg)
    ui.download_buttons(cats, f"linli_community_{cid}_categories", key="cp_cats")

    st.subheader(t("cp_people_title"))
    p1, p2 = st.columns(2)
    if prof.personas.empty:
        p1.info(t("cp_no_users"))
    else:
        pm = prof.personas.assign(label=prof.personas["persona"].map(lambda p: t("persona_" + p)))
        fig_p = px.pie(pm, names="label", values="users", hole=0.45)
        fig_p.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10})
        p1.plotly_chart(fig_p, width="stretch", key="cp_personas")
    if prof.tags.empty:
        p2.info(t("cp_no_users"))
    else:
        tm = prof.tags.assign(label=prof.tags["tag"].map(lambda x: t("tag_" + x)))
        fig_t = px.bar(tm, x="label", y="share", labels={"label": "", "share": t("cp_share")})
        fig_t.update_layout(
            height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_tickformat=".0%"
        )
        p2.plotly_chart(fig_t, width="stretch", key="cp_tags")

    st.subheader(t("cp_koc_title"))
    if prof.kocs.empty:
        ui.empty_note("cp_no_kocs")
    else:
        kcols = ["rank_in_community", "user_id", "score", "messages", "replies_received"]
        kcols += ["shares", "influence_orders", "influence_gmv"]
        st.dataframe(
            prof.kocs[kcols],
            hide_index=True,
            width="stretch",
            column_config={
                "rank_in_community": t("cp_rank"),
                "user_id": t("sg_col_user"),
                "score": st.column_config.ProgressColumn(
                    t("cp_koc_score"), min_value=0.0, max_value=1.0, format="%.2f"
                ),
                "messages": t("cp_messages"),
                "replies_received": t("cp_replies"),
                "shares": t("cp_shares"),
                "influence_orders": t("cp_influence_orders"),
                "influence_gmv": st.column_config.NumberColumn(
                    t("cp_influence_gmv"), format="¥%,.0f"
                ),
            },
        )
        st.caption(t("cp_koc_note"))
        ui.download_buttons(prof.kocs[kcols], f"linli_community_{cid}_kocs", key="cp_kocs")

    st.subheader(t("cp_similar_title"))
    sim = prof.similar.assign(type=prof.similar["type"].map(lambda x: t("type_" + x)))
    st.dataframe(
        sim,
        hide_index=True,
        width="stretch",
        column_config={
            "community_id": None,
            "name": t("col_community"),
            "type": t("col_type"),
            "region": t("col_region"),
            "similarity": st.column_config.NumberColumn(t("cp_similarity"), format="%.2f"),
        },
    )
    draw_map((int(cid),))
else:
    picked = st.multiselect(
        t("cp_pick_compare"),
        list(names),
        default=list(names)[:2],
        format_func=lambda c: names.get(c, str(c)),
        max_selections=4,
        key="cp_compare",
    )
    if len(picked) < 2:
        st.info(t("cp_pick_more"), icon=":material/info:")
        st.stop()
    cmp = sw.compare(version, f.start, f.end, regions, tuple(int(c) for c in picked))
    cmp = sw.format_compare(cmp.astype(object))
    cmp.columns = [t("cp_metric")] + [names[int(c)] for c in cmp.columns[1:]]
    st.dataframe(cmp, hide_index=True, width="stretch")
    ui.download_buttons(cmp, "linli_community_compare", key="cp_compare")
    cats = table.categories[table.categories["community_id"].isin(picked)]
    cats = cats.assign(community=cats["community_id"].map(names))
    fig = px.bar(
        cats,
        x="category",
        y="preference_index",
        color="community",
        barmode="group",
        labels={"category": "", "preference_index": t("cp_pref_index"), "community": ""},
    )
    fig.add_hline(y=1.0, line_dash="dot")
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(fig, width="stretch", key="cp_compare_cats")
    draw_map(tuple(int(c) for c in picked))
