"""用户与审计 Users and audit: local accounts and the audit log, for admins."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import actions, admin, auth, state
from dashboard import components as ui
from dashboard.i18n import t
from engine import auth as engine_auth

ui.page_header("page_admin")
me = auth.current_user()
st.subheader(t("adm_users"))
users = admin.users()
users["role"] = users["role"].map(lambda r: t("role_" + r))
for col in ("regions", "warehouses"):
    users[col] = users[col].map(
        lambda v: (
            ("、".join(map(str, v)) or t("sec_adm_none"))
            if isinstance(v, list | tuple | np.ndarray)
            else t("adm_all")
        )
    )
ui.table(users, "admin")

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
            help=t("sec_adm_regions_help"),
        )
        no_regions = st.checkbox(t("sec_adm_empty_scope"))
        whs = admin.warehouses()
        wh_names = dict(zip(whs["warehouse_id"], whs["name"], strict=True))
        warehouses = st.multiselect(
            t("adm_col_warehouses"),
            list(wh_names),
            format_func=wh_names.get,
            placeholder=t("adm_all"),
            help=t("adm_warehouses_help"),
        )
        if st.form_submit_button(t("adm_create"), type="primary"):
            try:
                admin.add_user(
                    me.username if me else "demo",
                    username.strip(),
                    password,
                    role,
                    regions or ([] if no_regions else None),
                    warehouses or None,
                    display,
                    allow_empty_scope=no_regions,
                )
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.success(t("adm_created", username=ui.md(username)))

st.subheader(t("adm_audit"))
ui.table(admin.audit_log(), "admin", download="linli_audit_log", empty="adm_audit_empty")

st.subheader(t("act_channels"), help=t("act_channels_help"))
actions.channels_panel(me.username if me else "demo")
st.subheader(t("act_outbox"))
actions.outbox_panel()
st.subheader(t("act_jobs"))
actions.jobs_panel()
