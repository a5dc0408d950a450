"""The audit log: who did what, when, with a JSON detail (never a password or a hash).

Every writer (logins, user changes, imports and syncs, plan approvals, rule changes) goes
through :func:`record`, so every row has one shape: ``logged_at, username, action, detail``
with ``detail`` a JSON object or NULL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd


def record(
    con: duckdb.DuckDBPyConnection,
    username: str | None,
    action: str,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one audit entry.

    Parameters
    ----------
    con
        Writable connection (the caller's transaction, if any, covers the entry).
    username
        Who acted; ``None`` for the system (a sync started without a user).
    action
        What happened, a short snake_case word: ``login``, ``import``, ``plan_approved``, …
    detail
        Facts about the action, stored as a JSON object (values that JSON cannot hold are
        written as text).
    now
        When it happened; default the current time.

    Raises
    ------
    ValueError
        When ``action`` is empty or ``detail`` is not a mapping.
    """
    if not action:
        raise ValueError("an audit entry needs an action")
    if detail is not None and not isinstance(detail, Mapping):
        raise ValueError(f"audit detail must be a mapping, got {type(detail).__name__}")
    con.execute(
        "INSERT INTO audit_log (logged_at, username, action, detail) VALUES (?, ?, ?, ?)",
        [
            now or datetime.now(),
            username,
            action,
            None if detail is None else json.dumps(dict(detail), ensure_ascii=False, default=str),
        ],
    )


def entries(con: duckdb.DuckDBPyConnection, limit: int = 500) -> pd.DataFrame:
    """Return the most recent audit entries, newest first.

    Parameters
    ----------
    con
        An open connection.
    limit
        At most this many entries.

    Returns
    -------
    pandas.DataFrame
        ``logged_at, username, action, detail`` (detail as JSON text).

    Raises
    ------
    ValueError
        When ``limit`` is negative.
    """
    if int(limit) < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    return con.execute(
        "SELECT logged_at, username, action, detail FROM audit_log ORDER BY logged_at DESC LIMIT ?",
        [int(limit)],
    ).df()
