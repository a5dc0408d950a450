"""Linli's Streamlit entry: page config, language, global filters, navigation by role."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

from dashboard import actions, auth, coldchain, db, nav, state  # noqa: E402
from dashboard.i18n import LANGS, t  # noqa: E402
from engine import db as dbmod  # noqa: E402

st.set_page_config(page_title="Linli 邻里", page_icon=":material/storefront:", layout="wide")

st.session_state.setdefault(
    "lang",
    os.environ.get("LINLI_LANG", "zh") if os.environ.get("LINLI_LANG", "zh") in LANGS else "zh",
)
st.sidebar.radio(
    t("language"),
    LANGS,
    key="lang",
    horizontal=True,
    format_func=lambda code: {"zh": "中文", "en": "English"}[code],
)

try:
    db.connection()
except dbmod.DatabaseError as exc:
    st.title(t("app_title"))
    st.error(f"**{t('db_error_title')}** — {exc}", icon=":material/error:")
    st.stop()

try:  # the outbox sender and the scheduled jobs start with the app, not with a page
    actions.runtime()
except ValueError as exc:  # a malformed LINLI_DIGEST_AT must not take the app down
    st.sidebar.warning(f"{t('act_jobs')}: {exc}", icon=":material/schedule:")

try:  # live cold-chain ingestion starts with the app, not with its page
    coldchain.ingester()
except ValueError as exc:  # a malformed LINLI_MQTT_URL must not take the app down
    st.sidebar.warning(f"MQTT: {exc}", icon=":material/sensors_off:")

auth.require_login()
auth.sidebar_badge()
auth.require_rows()  # an account whose scope covers nothing sees a note, not every region
role = auth.role()
visible = [p for p in nav.PAGES if role == "demo" or role in p.roles]
if not visible:
    st.title(t("app_title"))
    st.info(t("no_pages_for_role"), icon=":material/info:")
    st.stop()
page = st.navigation(nav.sections(visible, t))
state.sidebar()
as_of = state.bounds()[1]
st.sidebar.caption(t("data_as_of", as_of=as_of.isoformat()))
page.run()
