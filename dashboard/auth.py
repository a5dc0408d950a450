"""Login and session handling for the app: demo mode, local users, or OIDC via st.login."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import streamlit as st

from dashboard import db
from dashboard.i18n import t
from engine import audit, auth


def mode() -> str:
    """``none`` (labelled demo mode), ``local`` (users in the database) or ``oidc``."""
    m = os.environ.get("LINLI_AUTH", "none").lower()
    return m if m in ("none", "local", "oidc") else "local"


def current_user() -> auth.User | None:
    """The signed-in user of this session, or ``None``."""
    return st.session_state.get("user")


def scope() -> auth.Scope:
    """Row scope of this session (everything in demo mode)."""
    u = current_user()
    return u.scope if u else auth.ALL


def cache_scoped(**cache_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``st.cache_data`` for engine wrappers that take the session's row scope.

    The wrapped function has a keyword-only ``scope`` parameter; callers leave it out and
    get the signed-in user's scope, which is also part of the cache key, so one user's
    cached rows never reach another.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        cached = st.cache_data(**cache_kwargs)(fn)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            return cached(*args, scope=scope(), **kwargs)

        call.clear = cached.clear  # type: ignore[attr-defined]
        return call

    return deco


def role() -> str:
    """The session's role; ``demo`` shows every page."""
    u = current_user()
    return u.role if u else "demo"


def require_login() -> None:
    """Show the login form and stop the script unless a valid session exists."""
    m = mode()
    if m == "none":
        return
    u = current_user()
    now = datetime.now()
    if u is not None:
        if auth.session_expired(st.session_state.get("last_seen", now), now):
            audit.record(db.cursor(), u.username, "session_expired")
            st.session_state.pop("user", None)
            st.session_state["auth_notice"] = t("auth_expired")
        else:
            st.session_state["last_seen"] = now
            return
    if m == "oidc":
        _oidc()
        return
    _login_form()


def require_rows() -> None:
    """Stop with a plain note when the session's scope covers no rows (an empty scope)."""
    try:
        scope().communities(db.cursor())
    except auth.EmptyScope as exc:
        st.info(f"{t('sec_empty_scope')} ({exc})", icon=":material/info:")
        st.stop()


def _login_form() -> None:
    st.title(t("app_title"))
    notice = st.session_state.pop("auth_notice", None)
    if notice:
        st.warning(notice)
    with st.form("login"):
        name = st.text_input(t("auth_username"), max_chars=auth.MAX_USERNAME)
        pw = st.text_input(t("auth_password"), type="password", max_chars=auth.MAX_PASSWORD)
        ok = st.form_submit_button(t("auth_sign_in"), type="primary")
    if ok:
        try:
            user = auth.authenticate(db.cursor(), name.strip(), pw)
        except auth.AuthError as exc:
            key = {"locked": "auth_locked", "unavailable": "sec_auth_unavailable"}.get(
                exc.reason, "auth_bad"
            )
            st.error(t(key, detail=str(exc)))
        else:
            st.session_state["user"] = user
            st.session_state["last_seen"] = datetime.now()
            st.rerun()
    st.stop()


def _oidc() -> None:
    if not st.user.is_logged_in:
        st.title(t("app_title"))
        st.button(t("auth_sign_in"), on_click=st.login, type="primary")
        st.stop()
    email = str(st.user.get("email", ""))
    user = auth.find_user(db.cursor(), email)
    if user is None:
        st.error(t("auth_no_account", email=email))
        st.button(t("auth_sign_out"), on_click=st.logout)
        st.stop()
    st.session_state["user"] = user
    st.session_state["last_seen"] = datetime.now()
    audit.record(db.cursor(), email, "login", {"via": "oidc"})


def sidebar_badge() -> None:
    """Who is signed in (or the demo-mode label) and a sign-out button."""
    u = current_user()
    if mode() == "none":
        st.sidebar.caption(f":material/lock_open: {t('demo_mode')}")
        return
    if u:
        st.sidebar.caption(f":material/person: {u.display_name} · {t('role_' + u.role)}")
        if st.sidebar.button(t("auth_sign_out"), key="sign_out"):
            audit.record(db.cursor(), u.username, "logout")
            st.session_state.pop("user", None)
            if mode() == "oidc":
                st.logout()
            st.rerun()
