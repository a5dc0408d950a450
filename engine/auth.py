"""Users, roles, row-level scope, password login with lock-out and sessions.

Passwords are stored only as argon2id hashes (salted by construction); neither the
password nor the hash is ever written to the audit log (:mod:`engine.audit`).
"""

from __future__ import annotations

import threading
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from engine import audit
from engine import scope as scope_mod

ROLES = ("executive", "regional_manager", "analyst", "dispatcher", "admin")
MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_MINUTES = 60
MAX_USERNAME = 64  # characters, after normalisation
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # characters; longer input is refused before any hashing
# Roles whose rows are cut by region: without regions they see nothing, never everything.
REGION_ROLES = ("regional_manager",)
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class AuthError(Exception):
    """Login refused; ``reason`` is ``bad_credentials``, ``locked`` or ``expired``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# The row scope lives in engine.scope; it is part of this module's interface.
ALL = scope_mod.ALL
EmptyScope = scope_mod.EmptyScope
Scope = scope_mod.Scope
ScopeError = scope_mod.ScopeError
_ids = scope_mod.ids


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    username: str
    role: str
    display_name: str = ""
    scope: Scope = field(default_factory=Scope)


def normalise_username(username: str) -> str:
    """Return the one spelling of a username: NFKC, trimmed, lower case.

    ``Li.Na``, ``li.na `` and the full-width ``ｌｉ.ｎａ`` are the same user.

    Parameters
    ----------
    username
        As typed.

    Returns
    -------
    str
        The normalised name (may be empty or too long: :func:`check_username` says so).
    """
    if not isinstance(username, str):
        raise TypeError(f"a username is text, got {type(username).__name__}")
    return unicodedata.normalize("NFKC", username).strip().lower()


def check_username(username: str) -> str:
    """Return the normalised username, or raise when it cannot be one.

    Parameters
    ----------
    username
        As typed.

    Returns
    -------
    str
        The normalised name.

    Raises
    ------
    ValueError
        When it is empty, longer than :data:`MAX_USERNAME`, or holds spaces or control
        characters.
    """
    name = normalise_username(username)
    if not name:
        raise ValueError("username must not be empty")
    if len(name) > MAX_USERNAME:
        raise ValueError(f"a username has at most {MAX_USERNAME} characters, got {len(name)}")
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in name):
        raise ValueError("a username must not contain spaces or control characters")
    return name


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password`` (with a fresh random salt).

    Raises
    ------
    ValueError
        When the password is shorter than :data:`MIN_PASSWORD` characters once spaces are
        trimmed, longer than :data:`MAX_PASSWORD`, or blank.
    """
    if not isinstance(password, str):
        raise ValueError("a password is text")
    if len(password.strip()) < MIN_PASSWORD:
        raise ValueError(
            f"a password needs at least {MIN_PASSWORD} characters besides leading or trailing "
            "spaces"
        )
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"a password has at most {MAX_PASSWORD} characters")
    return _HASHER.hash(password)


def _scope_ids(
    con: duckdb.DuckDBPyConnection, ids: Sequence[int] | None, table: str, what: str
) -> list[int] | None:
    """``ids`` checked to exist in ``table`` (a fixed name: regions or warehouses)."""
    if ids is None:
        return None
    checked = list(_ids(ids, what) or ())
    column = {"regions": "region_id", "warehouses": "warehouse_id"}[table]
    known = {
        int(r[0])
        for r in con.execute(
            f"SELECT {column} FROM {table} WHERE list_contains(?::INTEGER[], {column})", [checked]
        ).fetchall()
    }
    unknown = [i for i in checked if i not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}: no such id in the {table} table")
    return checked


def create_user(
    con: duckdb.DuckDBPyConnection,
    username: str,
    password: str,
    role: str,
    regions: Sequence[int] | None = None,
    warehouses: Sequence[int] | None = None,
    display_name: str = "",
    now: datetime | None = None,
    allow_empty_scope: bool = False,
) -> User:
    """Create a local user.

    Parameters
    ----------
    con
        Writable connection.
    username, password
        Credentials; the username is normalised (:func:`normalise_username`), the password
        is stored only as a salted hash.
    role
        One of :data:`ROLES`; a role of :data:`REGION_ROLES` needs ``regions``.
    regions, warehouses
        Scope; ``None`` for all. Every id must exist. An empty list (sees nothing) only with
        ``allow_empty_scope``.
    display_name
        Shown in the sidebar.
    now
        Creation time (for tests).
    allow_empty_scope
        Say so to create a user who sees no rows yet (regions or warehouses assigned later).

    Returns
    -------
    User
        The new user.

    Raises
    ------
    ValueError
        For an unknown role, an empty, too long or taken username, a short or blank password,
        an unknown region or warehouse, an empty scope not asked for, or a regional role
        without regions.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    name = check_username(username)
    regions = _scope_ids(con, regions, "regions", "regions")
    warehouses = _scope_ids(con, warehouses, "warehouses", "warehouses")
    if role in REGION_ROLES and regions is None:
        raise ValueError(f"a {role} needs regions: name at least one region id")
    if (regions == [] or warehouses == []) and not allow_empty_scope:
        raise ValueError(
            "an empty region or warehouse list would let this user see nothing; name ids, "
            "leave it out for all, or ask explicitly for an empty scope"
        )
    exists = con.execute("SELECT count(*) FROM app_users WHERE username = ?", [name]).fetchall()
    if exists[0][0]:
        raise ValueError(f"user {name!r} already exists")
    con.execute(
        "INSERT INTO app_users (username, display_name, role, regions, warehouses, password_hash, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            name,
            display_name or name,
            role,
            regions,
            warehouses,
            hash_password(password),
            now or datetime.now(),
        ],
    )
    audit.record(con, name, "user_created", {"role": role}, now)
    return _known(con, name)


def find_user(con: duckdb.DuckDBPyConnection, username: str) -> User | None:
    """Return the local user of this name with role and scope, or ``None`` when there is none.

    No password is checked: this is for a sign-in already verified elsewhere (OIDC), whose
    e-mail must match a Linli username. A user of a :data:`REGION_ROLES` role stored without
    regions gets an empty scope (sees nothing), never all.

    Parameters
    ----------
    con
        An open connection.
    username
        The username (normalised before the lookup).

    Returns
    -------
    User or None
        The user, or ``None`` for an unknown name.
    """
    name = normalise_username(username)
    if not name or len(name) > MAX_USERNAME:
        return None
    rows = con.execute(
        "SELECT username, role, display_name, regions, warehouses FROM app_users "
        "WHERE username = ?",
        [name],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    regions = None if row[3] is None else tuple(row[3])
    if regions is None and row[1] in REGION_ROLES:
        regions = ()
    scope = Scope(regions, None if row[4] is None else tuple(row[4]))
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


# One lock per stripe of usernames: the read of the failure counter, the password check and
# the counter's update run as one step per user, so parallel guesses (one cursor each, as the
# app's threads have) cannot each read "4 failures" and all get a check. DuckDB allows one
# writing process per file, so a lock in this process covers every writer of the counter.
_STRIPES = tuple(threading.Lock() for _ in range(64))


def _user_lock(name: str) -> threading.Lock:
    return _STRIPES[zlib.crc32(name.encode("utf-8")) % len(_STRIPES)]


def _shown(username: object) -> str:
    """The username as it may be written to the audit log: text, at most MAX_USERNAME chars."""
    text = username if isinstance(username, str) else repr(username)
    text = "".join(c if c.isprintable() else "\ufffd" for c in text[: MAX_USERNAME + 1])
    return text if len(text) <= MAX_USERNAME else text[: MAX_USERNAME - 1] + "…"


def authenticate(
    con: duckdb.DuckDBPyConnection, username: str, password: str, now: datetime | None = None
) -> User:
    """Check a password; count failures and lock the account after :data:`MAX_FAILURES`.

    The failure count is read, the password checked and the count written as one step per
    user (a lock and a transaction), so concurrent guesses get at most :data:`MAX_FAILURES`
    password checks between two lock-outs.

    Parameters
    ----------
    con
        Writable connection (a cursor of its own: the check runs in a transaction).
    username, password
        Credentials as typed; the username is normalised (:func:`normalise_username`).
    now
        Current time (for tests).

    Returns
    -------
    User
        The user on success (failures reset).

    Raises
    ------
    AuthError
        ``bad_credentials`` for an unknown, malformed or over-long user name or a wrong
        password (same message for all), ``locked`` while the account is locked,
        ``unavailable`` when the database cannot record the attempt.
    """
    now = now or datetime.now()
    try:
        name = check_username(username)
    except (TypeError, ValueError) as exc:
        _HASHER.hash("timing-equaliser")  # same work as a real check
        _record(con, _shown(username), "login_failed", {"reason": str(exc)}, now)
        raise AuthError("bad_credentials", "wrong username or password") from None
    with _user_lock(name):
        try:
            con.execute("BEGIN TRANSACTION")
        except duckdb.Error as exc:  # closed cursor, or the caller's transaction is open
            raise _unavailable() from exc
        try:
            user = _check(con, name, password, now)
        except AuthError:
            _commit(con)  # failures and the lock are recorded even though the login is refused
            raise
        except BaseException as exc:
            _rollback(con)
            if isinstance(exc, duckdb.Error):
                raise _unavailable() from exc
            raise
        _commit(con)
    return user


def _check(con: duckdb.DuckDBPyConnection, name: str, password: str, now: datetime) -> User:
    """The body of :func:`authenticate`, inside its lock and transaction."""
    rows = con.execute(
        "SELECT password_hash, failed_logins, locked_until FROM app_users WHERE username = ?",
        [name],
    ).fetchall()
    if not rows:
        _HASHER.hash("timing-equaliser")  # same work as a real check
        audit.record(con, name, "login_failed", {"reason": "unknown user"}, now)
        raise AuthError("bad_credentials", "wrong username or password")
    pw_hash, failures, locked_until = rows[0]
    if locked_until is not None and locked_until > now:
        audit.record(con, name, "login_refused", {"reason": "locked"}, now)
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        raise AuthError(
            "locked",
            f"account locked after repeated failures; try again in {minutes} min or ask an admin",
        )
    try:
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            raise VerifyMismatchError("refused before hashing")
        _HASHER.verify(pw_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        failures += 1
        lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
        con.execute(
            "UPDATE app_users SET failed_logins = ?, locked_until = ? WHERE username = ?",
            [0 if lock else failures, lock, name],
        )
        audit.record(con, name, "login_failed", {"failures": failures, "locked": bool(lock)}, now)
        raise AuthError("bad_credentials", "wrong username or password") from None
    con.execute(
        "UPDATE app_users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [name]
    )
    audit.record(con, name, "login", None, now)
    return _known(con, name)


def _unavailable() -> AuthError:
    return AuthError("unavailable", "sign-in is unavailable right now (database busy); try again")


def _record(con: duckdb.DuckDBPyConnection, name: str, action: str, detail: dict, now) -> None:
    try:
        audit.record(con, name, action, detail, now)
    except duckdb.Error as exc:
        raise _unavailable() from exc


def _commit(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("COMMIT")
    except duckdb.Error as exc:
        _rollback(con)
        raise _unavailable() from exc


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # the transaction already ended


def session_expired(
    last_seen: datetime, now: datetime | None = None, minutes: int = SESSION_MINUTES
) -> bool:
    """True when a session idle since ``last_seen`` has passed the timeout."""
    return (now or datetime.now()) - last_seen > timedelta(minutes=minutes)
