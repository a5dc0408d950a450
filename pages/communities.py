"""社区画像 Communities: one community's profile or 2–4 side by side, with a density map."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import charts, db, gaps, maps
from dashboard import components as ui
from dashboard import segments as sw
from dashboard.i18n import t

version = db.data_version()
f = ui.page_header("page_communities", period=True)
# Regional managers see only their regions, whatever the filter says.
regions = sw.allowed_regions(f.regions)
try:
    table = sw.community_table(version, f.start, f.end, regions)
except ValueError as exc:
    ui.stop_warning("cp_cannot_profile", exc)
metrics = table.metrics
if metrics.empty:
    ui.stop_note("cp_no_communities")
names = dict(zip(metrics["community_id"], metrics["name"], strict=True))
mode = ui.segmented("cp_mode", ["one", "compare"], "cp_mode", prefix="cp_mode_")


def draw_map(selected: tuple[int, ...]) -> None:
    """Density of orders on H3 hexagons, pickup points and warehouses (no basemap needed)."""
    st.subheader(t("cp_map_title"))
    md = sw.density(version, f.start, f.end, regions, selected)
    if md.hexes.empty:
        ui.empty_note("no_data_period")
        return
    tip = "{communities}{name}\n{orders} " + t("col_paid_orders")
    maps.density(md.hexes, md.pickups, md.warehouses, md.centre, tooltip=tip, key="cp_map")
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
    info = prof.info | {"band": t("band_" + str(prof.info["price_band"]))}
    rate = ui.fmt_pct(info.get("commission_rate"))
    kind, leader = t("type_" + info["type"]), info.get("leader") or "—"
    st.caption(
        t("cp_info", type=kind, region=ui.md(info["region"]), leader=ui.md(leader), rate=rate)
    )
    profile_cards = [
        ("cp_households", "households", "count"), ("col_active_buyers", "active_buyers", "count"),
        ("cp_penetration", "penetration", "pct"), ("col_gmv", "gmv", "money"),
        ("kpi_aov", "aov", "money1"), ("col_group_success_rate", "group_success_rate", "pct"),
        ("cp_price_band", "band", "text"), ("cp_avg_unit_price", "avg_unit_price", "money1"),
    ]  # fmt: skip
    ui.kpi_row([ui.card(key, info[c], unit) for key, c, unit in profile_cards], per_row=4)
    st.subheader(t("cp_leader_title"))
    leader_cards = [
        ("col_gmv", "gmv", "money"), ("kpi_leader_commission", "commission", "money"),
        ("col_on_time_rate", "on_time_rate", "pct"), ("kpi_pickup_hours", "pickup_hours", "hours"),
        ("kpi_nps", "nps", "score"),
    ]  # fmt: skip
    cards = [ui.card(k, info[c], u, good_up=c != "pickup_hours") for k, c, u in leader_cards]
    ui.kpi_row(cards, per_row=5)
    gaps.kpi_notes(version, {k: info[k] for k in ("group_success_rate", "nps")})

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
    c1, c2 = st.columns(2)
    charts.show(charts.style(fig, 420, h_legend=False), "cp_cats", c1)
    ui.table(cats, "communities.categories", where=c2)
    ui.download_buttons(cats, f"linli_community_{cid}_categories", key="cp_cats")

    st.subheader(t("cp_people_title"))
    p1, p2 = st.columns(2)
    if prof.personas.empty:
        p1.info(t("cp_no_users"))
    else:
        pm = prof.personas.assign(label=prof.personas["persona"].map(lambda p: t("persona_" + p)))
        fig_p = px.pie(pm, names="label", values="users", hole=0.45)
        charts.show(charts.style(fig_p, 300, h_legend=False, top=30), "cp_personas", p1)
    if prof.tags.empty:
        p2.info(t("cp_no_users"))
    else:
        tm = prof.tags.assign(label=prof.tags["tag"].map(lambda x: t("tag_" + x)))
        fig_t = px.bar(tm, x="label", y="share", labels={"label": "", "share": t("cp_share")})
        charts.show(charts.style(fig_t, 300, y="pct", h_legend=False, top=30), "cp_tags", p2)

    st.subheader(t("cp_koc_title"))
    gaps.note(version, "koc")
    if prof.kocs.empty:
        ui.empty_note("cp_no_kocs")
    else:
        kcols = ["rank_in_community", "user_id", "score", "messages", "replies_received"]
        kocs = prof.kocs[[*kcols, "shares", "influence_orders", "influence_gmv"]]
        ui.table(kocs, "communities.kocs")
        st.caption(t("cp_koc_note"))
        ui.download_buttons(kocs, f"linli_community_{cid}_kocs", key="cp_kocs")

    st.subheader(t("cp_similar_title"))
    sim = prof.similar.assign(type=prof.similar["type"].map(lambda x: t("type_" + x)))
    ui.table(sim, "communities.similar")
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
    charts.show(charts.style(fig, 380, h_legend=False), "cp_compare_cats")
    draw_map(tuple(int(c) for c in picked))
