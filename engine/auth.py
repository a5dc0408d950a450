"""Users, roles, row-level scope, password login with lock-out and sessions.

Passwords are stored only as argon2id hashes (salted by construction); neither the
password nor the hash is ever written to the audit log (:mod:`engine.audit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from engine import audit

ROLES = ("executive", "regional_manager", "analyst", "dispatcher", "admin")
MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_MINUTES = 60
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class AuthError(Exception):
    """Login refused; ``reason`` is ``bad_credentials``, ``locked`` or ``expired``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ScopeError(PermissionError):
    """A request asked for rows outside the caller's scope."""


@dataclass(frozen=True)
class Scope:
    """Rows a user may see: region ids and warehouse ids (``None`` = all)."""

    regions: tuple[int, ...] | None = None
    warehouses: tuple[int, ...] | None = None

    def clip_regions(self, requested: Sequence[int] = ()) -> tuple[int, ...]:
        """Return the regions to query: the request limited to the scope.

        Parameters
        ----------
        requested
            Region ids asked for; empty means "all I may see".

        Returns
        -------
        tuple of int
            Region ids to filter on; empty means no restriction (only for unscoped users).

        Raises
        ------
        ScopeError
            When every requested region lies outside the scope.
        """
        req = tuple(int(r) for r in requested)
        if self.regions is None:
            return req
        if not req:
            return self.regions
        inside = tuple(r for r in req if r in self.regions)
        if not inside:
            raise ScopeError(f"regions {list(req)} are outside your scope {list(self.regions)}")
        return inside

    @property
    def restricted(self) -> bool:
        """True when the scope limits rows at all."""
        return self.regions is not None or self.warehouses is not None

    def communities(self, con: duckdb.DuckDBPyConnection) -> list[int] | None:
        """Community ids whose rows the scope may see (``None`` = all).

        A community is inside when its region is in ``regions`` (if set) and its serving
        warehouse is in ``warehouses`` (if set).
        """
        if not self.restricted:
            return None
        rows = con.execute(
            "SELECT community_id FROM communities "
            "WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], region_id)) "
            "AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], warehouse_id)) "
            "ORDER BY community_id",
            [*(_as_list(self.regions),) * 2, *(_as_list(self.warehouses),) * 2],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def warehouse_ids(self, con: duckdb.DuckDBPyConnection) -> list[int] | None:
        """Warehouse ids whose rows the scope may see (``None`` = all).

        A warehouse is inside when it is in ``warehouses`` (if set) and, for a regional
        scope, serves at least one community of the scope's regions.
        """
        if not self.restricted:
            return None
        rows = con.execute(
            "SELECT warehouse_id FROM warehouses w "
            "WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], warehouse_id)) "
            "AND (?::INTEGER[] IS NULL OR EXISTS (SELECT 1 FROM communities c "
            "WHERE c.warehouse_id = w.warehouse_id AND list_contains(?::INTEGER[], c.region_id))) "
            "ORDER BY warehouse_id",
            [*(_as_list(self.warehouses),) * 2, *(_as_list(self.regions),) * 2],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def clip_communities(
        self, con: duckdb.DuckDBPyConnection, requested: Sequence[int] | None = ()
    ) -> list[int] | None:
        """The requested communities limited to the scope (``None`` = no restriction).

        Raises
        ------
        ScopeError
            When communities were requested and none of them lies inside the scope.
        """
        return _clip(requested, self.communities(con), "communities")

    def clip_warehouses(
        self, con: duckdb.DuckDBPyConnection, requested: Sequence[int] | None = ()
    ) -> list[int] | None:
        """The requested warehouses limited to the scope (``None`` = no restriction).

        Raises
        ------
        ScopeError
            When warehouses were requested and none of them lies inside the scope.
        """
        return _clip(requested, self.warehouse_ids(con), "warehouses")

    def mask(
        self, region_ids: Sequence[int] | np.ndarray, warehouse_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Which communities, given their region and serving warehouse, lie inside the scope."""
        reg = np.asarray(region_ids, dtype=np.int64)
        ok = np.ones(len(reg), dtype=bool)
        if self.regions is not None:
            ok &= np.isin(reg, np.asarray(self.regions, dtype=np.int64))
        if self.warehouses is not None:
            wh = np.asarray(warehouse_ids, dtype=np.int64)
            ok &= np.isin(wh, np.asarray(self.warehouses, dtype=np.int64))
        return ok

    def keep(
        self, con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, column: str = "community_id"
    ) -> pd.DataFrame:
        """Rows of ``frame`` whose ``column`` (community or warehouse ids) is inside the scope."""
        if not self.restricted:
            return frame
        allowed = self.warehouse_ids(con) if column == "warehouse_id" else self.communities(con)
        return frame.loc[frame[column].isin(allowed)]


def _clip(
    requested: Sequence[int] | None, allowed: list[int] | None, what: str
) -> list[int] | None:
    """``requested`` ids limited to ``allowed`` (``None`` = all); see ``Scope.clip_*``."""
    req = [int(i) for i in (requested or ())]
    if allowed is None:
        return req or None
    if not req:
        return allowed
    keep = set(allowed)
    inside = [i for i in req if i in keep]
    if not inside:
        raise ScopeError(f"{what} {req} are outside your scope")
    return inside


def _as_list(ids: tuple[int, ...] | None) -> list[int] | None:
    return None if ids is None else [int(i) for i in ids]


ALL = Scope()


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    username: str
    role: str
    display_name: str = ""
    scope: Scope = field(default_factory=Scope)


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password`` (with a fresh random salt)."""
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _HASHER.hash(password)


def create_user(
    con: duckdb.DuckDBPyConnection,
    username: str,
    password: str,
    role: str,
    regions: Sequence[int] | None = None,
    warehouses: Sequence[int] | None = None,
    display_name: str = "",
    now: datetime | None = None,
) -> User:
    """Create a local user.

    Parameters
    ----------
    con
        Writable connection.
    username, password
        Credentials; the password is stored only as a salted hash.
    role
        One of :data:`ROLES`.
    regions, warehouses
        Scope; ``None`` for all.
    display_name
        Shown in the sidebar.
    now
        Creation time (for tests).

    Returns
    -------
    User
        The new user.

    Raises
    ------
    ValueError
        For an unknown role, an empty or taken username, or a short password.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not username.strip():
        raise ValueError("username must not be empty")
    exists = con.execute("SELECT count(*) FROM app_users WHERE username = ?", [username]).fetchall()
    if exists[0][0]:
        raise ValueError(f"user {username!r} already exists")
    con.execute(
        "INSERT INTO app_users (username, display_name, role, regions, warehouses, password_hash, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            username,
            display_name or username,
            role,
            None if regions is None else [int(r) for r in regions],
            None if warehouses is None else [int(w) for w in warehouses],
            hash_password(password),
            now or datetime.now(),
        ],
    )
    audit.record(con, username, "user_created", {"role": role}, now)
    return _known(con, username)


def find_user(con: duckdb.DuckDBPyConnection, username: str) -> User | None:
    """Return the local user of this name with role and scope, or ``None`` when there is none.

    No password is checked: this is for a sign-in already verified elsewhere (OIDC), whose
    e-mail must match a Linli username.

    Parameters
    ----------
    con
        An open connection.
    username
        The exact username.

    Returns
    -------
    User or None
        The user, or ``None`` for an unknown name.
    """
    rows = con.execute(
        "SELECT username, role, display_name, regions, warehouses FROM app_users "
        "WHERE username = ?",
        [username],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    scope = Scope(
        None if row[3] is None else tuple(row[3]), None if row[4] is None else tuple(row[4])
    )
    return User(row[0], row[1], row[2] or row[0], scope)


def _known(con: duckdb.DuckDBPyConnection, username: str) -> User:
    user = find_user(con, username)
    if user is None:  # only called right after the row was written or checked
        raise KeyError(username)
    return user


def users(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return every local user without password hashes, by username.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    pandas.DataFrame
        ``username, display_name, role, regions, warehouses, failed_logins, locked_until,
        created_at`` (``regions``/``warehouses`` NULL for all).
    """
    return con.execute(
        "SELECT username, display_name, role, regions, warehouses, failed_logins, locked_until, "
        "created_at FROM app_users ORDER BY username"
    ).df()


def authenticate(
    con: duckdb.DuckDBPyConnection, username: str, password: str, now: datetime | None = None
) -> User:
    """Check a password; count failures and lock the account after :data:`MAX_FAILURES`.

    Parameters
    ----------
    con
        Writable connection.
    username, password
        Credentials as typed.
    now
        Current time (for tests).

    Returns
    -------
    User
        The user on success (failures reset).

    Raises
    ------
    AuthError
        ``bad_credentials`` for an unknown user or wrong password (same message for both),
        ``locked`` while the account is locked.
    """
    now = now or datetime.now()
    rows = con.execute(
        "SELECT password_hash, failed_logins, locked_until FROM app_users WHERE username = ?",
        [username],
    ).fetchall()
    if not rows:
        _HASHER.hash("timing-equaliser")  # same work as a real check
        audit.record(con, username, "login_failed", {"reason": "unknown user"}, now)
        raise AuthError("bad_credentials", "wrong username or password")
    pw_hash, failures, locked_until = rows[0]
    if locked_until is not None and locked_until > now:
        audit.record(con, username, "login_refused", {"reason": "locked"}, now)
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        raise AuthError(
            "locked",
            f"account locked after repeated failures; try again in {minutes} min or ask an admin",
        )
    try:
        _HASHER.verify(pw_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        failures += 1
        lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
        con.execute(
            "UPDATE app_users SET failed_logins = ?, locked_until = ? WHERE username = ?",
            [0 if lock else failures, lock, username],
        )
        audit.record(
            con, username, "login_failed", {"failures": failures, "locked": bool(lock)}, now
        )
        raise AuthError("bad_credentials", "wrong username or password") from None
    con.execute(
        "UPDATE app_users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username]
    )
    audit.record(con, username, "login", None, now)
    return _known(con, username)


def session_expired(
    last_seen: datetime, now: datetime | None = None, minutes: int = SESSION_MINUTES
) -> bool:
    """True when a session idle since ``last_seen`` has passed the timeout."""
    return (now or datetime.now()) - last_seen > timedelta(minutes=minutes)
