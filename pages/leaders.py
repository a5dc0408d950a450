"""团长工作台 Leader workbench: pickup lists, groups near threshold, commission, ranking."""

from __future__ import annotations

import streamlit as st

from dashboard import components as ui
from dashboard import db
from dashboard import leaders as lw
from dashboard.i18n import t

version = db.data_version()
f = ui.page_header("page_leaders", period=True)
pts = lw.points(version, f.regions)
if pts.empty:
    ui.stop_note("ld_no_points")
tab_list, tab_pay, tab_rank = st.tabs([t("ld_tab_list"), t("ld_tab_commission"), t("ld_tab_rank")])

with tab_list:
    c1, c2 = st.columns([2, 1])
    labels = {
        f"{n} · {ld} (#{i})": int(i)
        for i, n, ld in pts[["pickup_id", "name", "leader"]].itertuples(index=False)
    }
    label = c1.selectbox(t("ld_point"), list(labels), key="ld_point")
    day = c2.date_input(t("ld_day"), value=lw.tomorrow(version), key="ld_day")
    phones = lw.show_phones()
    lines, cust = lw.customers(version, labels[label], day, phones)
    st.caption(t("ld_list_caption", day=day.isoformat()))
    if not phones:
        st.caption(t("ld_phones_masked"))
    ui.kpi_row(
        [
            ui.card("ld_customers", len(cust)),
            ui.card("ld_orders", lines["order_id"].nunique() if len(lines) else 0),
            ui.card("ld_units", int(lines["qty"].sum()) if len(lines) else 0),
            ui.card("ld_amount", float(lines["amount"].sum()) if len(lines) else 0.0, "money"),
        ]
    )
    st.subheader(t("ld_list_title"))
    ui.table(cust, "leaders.customers", empty="ld_no_orders")
    if len(cust):
        page = lw.printable(label, day, cust)
        name = f"linli_pickup_{labels[label]}_{day}"
        ui.download("ld_print", page, f"{name}.html", "ld_html", ":material/print:")
        with st.expander(t("ld_lines_title")):
            ui.table(lines.drop(columns=["sku_id"]), "leaders.lines", download=name, key="ld_lines")

    st.subheader(t("ld_plan_title"))
    plan_day = lw.tomorrow(version)
    groups = lw.planned(labels[label], plan_day)
    st.caption(t("ld_plan_caption", day=plan_day.isoformat()))
    ui.table(groups.drop(columns=["plan_id", "sku_id"]), "leaders.planned", empty="ld_no_plan")

    st.subheader(t("ld_near_title"))
    within = st.slider(t("ld_within"), 0.05, 1.0, 0.3, 0.05, key="ld_within")
    near = lw.near(version, labels[label], float(within))
    st.caption(t("ld_near_caption"))
    ui.table(near.drop(columns=["campaign_id", "sku_id"]), "leaders.near", empty="ld_no_near")

with tab_pay:
    st.caption(t("ld_pay_caption", start=f.start.isoformat(), end=f.end.isoformat()))
    stmt = lw.statement(version, f.start, f.end)
    view = stmt.assign(status=stmt["status"].map(lambda s: t("ld_status_" + s)))
    ui.kpi_row(
        [
            ui.card("ld_pay_gmv", float(stmt["gmv"].sum()), "money"),
            ui.card("ld_pay_total", float(stmt["commission"].sum()), "money"),
            ui.card(
                "ld_pay_due", float(stmt.loc[stmt["status"] == "due", "commission"].sum()), "money"
            ),
            ui.card("ld_pay_settled", int((stmt["status"] == "settled").sum())),
        ]
    )
    ui.table(view, "leaders.statement", download="linli_commission", key="ld_stmt")
    due = stmt[stmt["status"] == "due"]
    if lw.may_settle() and len(due):
        names = dict(zip(due["leader_id"], due["leader"], strict=True))
        who = st.selectbox(
            t("ld_settle_who"),
            list(names),
            format_func=lambda i: f"{names[i]} (#{i})",
            key="ld_settle_who",
        )
        if st.button(t("ld_settle"), key="ld_settle_btn", type="primary"):
            try:
                paid = lw.settle(int(who), f.start, f.end)
            except ValueError as exc:
                st.warning(str(exc))
            else:
                st.success(t("ld_settled", amount=ui.fmt_money(paid, 2), name=names[who]))
    elif (stmt["status"] == "open").any():
        st.info(t("ld_period_open"), icon=":material/info:")

with tab_rank:
    rank = lw.leader_ranking(version, f.start, f.end)
    rank = rank.assign(
        tier=rank["tier"].map(lambda x: f"{lw.TIER_ICON[x]} {t('ld_tier_' + x)}".strip())
    )
    ui.table(rank, "leaders.ranking", download="linli_leader_ranking", key="ld_rank")
    st.subheader(t("ld_rules_title"))
    rules = lw.tier_rules()
    ui.table(rules.assign(tier=rules["tier"].map(lambda x: t("ld_tier_" + x))), "leaders.tiers")
    st.caption(t("ld_rules_caption"))
