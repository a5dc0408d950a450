"""用户与审计 Users and audit: local accounts and the audit log, for admins."""

from __future__ import annotations

import streamlit as st

from dashboard import admin, auth, state
from dashboard import components as ui
from dashboard.i18n import t
from engine import auth as engine_auth

st.title(t("page_admin"))
me = auth.current_user()
st.subheader(t("adm_users"))
st.dataframe(admin.users(), hide_index=True, width="stretch")

with st.expander(t("adm_add_user"), icon=":material/person_add:"):
    reg = state.regions()
    names = dict(zip(reg["region_id"], reg["name"], strict=True))
    with st.form("add_user", clear_on_submit=True):
        c1, c2 = st.columns(2)
        username = c1.text_input(t("auth_username"))
        display = c2.text_input(t("adm_display_name"))
        password = c1.text_input(t("auth_password"), type="password")
        role = c2.selectbox(t("adm_role"), engine_auth.ROLES, format_func=lambda r: t("role_" + r))
        regions = st.multiselect(
            t("filter_regions"),
            list(names),
            format_func=names.get,
            placeholder=t("filter_all_regions"),
        )
        if st.form_submit_button(t("adm_create"), type="primary"):
            try:
                admin.add_user(
                    me.username if me else "demo",
                    username.strip(),
                    password,
                    role,
                    regions or None,
                    None,
                    display,
                )
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.success(t("adm_created", username=username))

st.subheader(t("adm_audit"))
log = admin.audit_log()
if log.empty:
    ui.empty_note("adm_audit_empty")
else:
    st.dataframe(log, hide_index=True, width="stretch")
    ui.download_buttons(log, "linli_audit_log")
