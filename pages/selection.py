"""智能选品 Selection rules: write or load a rule, validate live, see picks, backtest, save."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard import auth, charts, db, gaps, selection
from dashboard import components as ui
from dashboard.i18n import lang, t

version = db.data_version()
f = ui.page_header("page_selection", t("sel_caption"))
# A regional manager sees only the communities of their regions.
regions = auth.scope().clip_regions(f.regions)
user = auth.current_user()
gaps.note(version, "rule_signals")

library = selection.saved_rules()
names = library["name"].tolist()
texts = dict(zip(library["name"], library["text"], strict=True))
st.session_state.setdefault("sel_text", texts[names[0]] if names else "")


def _load() -> None:
    picked = st.session_state.get("sel_pick")
    if picked in texts:
        st.session_state["sel_text"] = texts[picked]
        st.session_state["sel_name"] = picked


left, right = st.columns([4, 1], vertical_alignment="bottom")
left.selectbox(t("sel_library"), names, key="sel_pick")
right.button(t("sel_load"), on_click=_load, key="sel_load", icon=":material/upload:")

text = st.text_area(t("sel_editor"), key="sel_text", height=110)
with st.expander(t("sel_help_title"), icon=":material/help:"):
    st.markdown(t("sel_help"))

check = selection.check(text, lang())
if check.ok:
    st.success(f"{t('sel_valid')}: `{check.canonical}`", icon=":material/check_circle:")
else:
    st.error(t("sel_invalid", pos=check.position, msg=check.message), icon=":material/error:")
    st.code(check.pointer, language=None)

as_of = st.date_input(t("sel_as_of"), value=min(f.end, selection.default_as_of()), key="sel_as_of")

# ---------------------------------------------------------------- picks
st.subheader(t("sel_results"))
picks = None
if check.ok:
    try:
        with st.spinner():
            picks = selection.evaluate(version, text, as_of, regions)
    except ValueError as exc:
        st.warning(t("sel_eval_error", msg=exc), icon=":material/warning:")
if picks is not None:
    if picks.empty:
        ui.empty_note("sel_no_picks")
    else:
        k_comm = ui.card("sel_k_communities", picks["community_id"].nunique())
        k_skus = ui.card("sel_k_skus", picks["sku_id"].nunique())
        ui.kpi_row([k_comm, ui.card("sel_k_picks", len(picks)), k_skus], per_row=3)
        communities = picks.drop_duplicates("community_id")
        # Plain labels (no format_func): the label of a community is its name.
        by_label = {t("sel_all_communities"): None}
        for cid, cname in zip(
            communities["community_id"], communities["community_name"], strict=True
        ):
            by_label[cname if cname not in by_label else f"{cname} #{cid}"] = cid
        chosen = by_label[st.selectbox(t("sel_community"), list(by_label), key="sel_community")]
        shown = picks if chosen is None else picks[picks["community_id"] == chosen]
        ui.table(shown, "selection.picks")
        ui.download_buttons(picks, "linli_selection", key="sel_picks")

# ---------------------------------------------------------------- save
with st.expander(t("sel_save_title"), icon=":material/save:"):
    name = st.text_input(t("sel_name"), key="sel_name")
    if st.button(t("sel_save"), key="sel_save", disabled=not check.ok):
        try:
            selection.save_rule(name, text, user.username if user else "demo")
            st.success(t("sel_saved", name=ui.md(name.strip())), icon=":material/check:")
        except ValueError as exc:
            st.error(t("sel_save_error", msg=exc), icon=":material/error:")

# ---------------------------------------------------------------- backtest
st.subheader(t("sel_backtest"))
st.caption(t("sel_bt_caption"))
current = t("sel_bt_current")
chosen_rules = st.multiselect(
    t("sel_bt_rules"), [current, *names], default=[current], key="sel_bt_rules"
)
c1, c2, c3 = st.columns(3)
weeks = c1.number_input(t("sel_bt_weeks"), 1, 26, 8, key="sel_bt_weeks")
top_n = c2.number_input(t("sel_bt_top"), 1, 50, 10, key="sel_bt_top")
start = c3.date_input(
    t("sel_as_of"), value=as_of - timedelta(days=7 * int(weeks)), key="sel_bt_start"
)
named = []
for r in chosen_rules:
    if r == current:
        if check.ok:
            named.append((current, text))
        else:
            st.warning(t("sel_bt_invalid"), icon=":material/warning:")
    else:
        named.append((r, texts[r]))
if len(named) > selection.MAX_RULES:
    st.warning(t("sel_bt_too_many"), icon=":material/warning:")
elif st.button(t("sel_bt_run"), key="sel_bt_run", icon=":material/play_arrow:"):
    with st.spinner():
        st.session_state["sel_bt_result"] = selection.backtest(
            version, tuple(named), start, int(weeks), int(top_n), regions
        )
result = st.session_state.get("sel_bt_result")
if result is not None:
    summary, weekly = result["summary"], result["weekly"]
    traces = [
        {"x": g["as_of"], "y": g["hit_rate"], "name": rule_name}
        | {"dash": "dot" if rule_name == selection.BASELINE else "solid"}
        for rule_name, g in weekly.groupby("rule", sort=False)
    ]
    fig = charts.lines(traces, height=320, y="pct", top=30, title=t("sel_bt_chart"))
    charts.show(fig, "sel_bt_chart")
    ui.table(summary, "selection.backtest")
    ui.download_buttons(weekly, "linli_selection_backtest", key="sel_bt")
