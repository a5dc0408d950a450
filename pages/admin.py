"""用户与审计 Users and audit: local accounts and the audit log, for admins."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import admin, auth, state
from dashboard import components as ui
from dashboard.i18n import t
from engine import auth as engine_auth

st.title(t("page_admin"))
me = auth.current_user()
st.subheader(t("adm_users"))
users = admin.users()
users["role"] = users["role"].map(lambda r: t("role_" + r))
for col in ("regions", "warehouses"):
    users[col] = users[col].map(
        lambda v: (
            "、".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else t("adm_all")
        )
    )
st.dataframe(
    users,
    hide_index=True,
    width="stretch",
    column_config={
        "username": t("adm_col_username"),
        "display_name": t("adm_display_name"),
        "role": t("adm_role"),
        "regions": t("adm_col_regions"),
        "warehouses": t("adm_col_warehouses"),
        "failed_logins": t("adm_col_failed"),
        "locked_until": st.column_config.DatetimeColumn(
            t("adm_col_locked"), format="YYYY-MM-DD HH:mm"
        ),
        "created_at": st.column_config.DatetimeColumn(
            t("adm_col_created"), format="YYYY-MM-DD HH:mm"
        ),
    },
)

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
                    regions or None,
                    warehouses or None,
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
    st.dataframe(
        log,
        hide_index=True,
        width="stretch",
        column_config={
            "logged_at": st.column_config.DatetimeColumn(
                t("adm_col_at"), format="YYYY-MM-DD HH:mm:ss"
            ),
            "username": t("adm_col_username"),
            "action": t("adm_col_action"),
            "detail": t("adm_col_detail"),
        },
    )
    ui.download_buttons(log, "linli_audit_log")
