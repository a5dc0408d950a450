"""Cached-free wrappers for the admin page: users and the audit log (always fresh)."""

from __future__ import annotations

import pandas as pd

from dashboard import auth as session
from dashboard import db
from engine import audit, auth, reference


def users() -> pd.DataFrame:
    """Every local user without password hashes."""
    return auth.users(db.cursor())


def warehouses() -> pd.DataFrame:
    """Warehouse ids and names inside the admin's scope, for assigning a dispatcher's scope."""
    return reference.warehouses(db.cursor(), scope=session.scope())[["warehouse_id", "name"]]


def audit_log(limit: int = 500) -> pd.DataFrame:
    """Latest audit entries."""
    return audit.entries(db.cursor(), limit)


def add_user(
    actor: str,
    username: str,
    password: str,
    role: str,
    regions: list[int] | None,
    warehouses: list[int] | None,
    display_name: str,
    allow_empty_scope: bool = False,
) -> auth.User:
    """Create a user and record who did it (an empty scope only when asked for)."""
    cur = db.cursor()
    user = auth.create_user(
        cur,
        username,
        password,
        role,
        regions,
        warehouses,
        display_name,
        allow_empty_scope=allow_empty_scope,
    )
    audit.record(cur, actor, "user_added", {"username": user.username, "role": role})
    return user
