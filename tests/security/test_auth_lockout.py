"""Lock-out under concurrency: parallel guesses on separate cursors get at most five checks.

Each guesser thread has its own cursor of one connection, as ``dashboard/db.cursor()`` gives
the app's script threads. Password checks are counted by wrapping the hasher's ``verify``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from engine import auth, db

T0 = datetime(2026, 11, 1, 9, 0)
PASSWORD = "correct horse 1"


class CountingHasher:
    """The real hasher with a count of password checks."""

    def __init__(self, real):
        self.real, self.checks, self._lock = real, 0, threading.Lock()

    def verify(self, pw_hash, password):
        with self._lock:
            self.checks += 1
        return self.real.verify(pw_hash, password)

    def hash(self, password):
        return self.real.hash(password)


@pytest.fixture
def con(tmp_path):
    c = db.connect(tmp_path / "auth.duckdb")
    c.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙')")
    auth.create_user(c, "li.na", PASSWORD, "regional_manager", regions=[1], now=T0)
    auth.create_user(c, "wang.wei", PASSWORD, "analyst", now=T0)
    yield c
    c.close()


@pytest.fixture
def hasher(monkeypatch):
    counting = CountingHasher(auth._HASHER)
    monkeypatch.setattr(auth, "_HASHER", counting)
    return counting


def _storm(con, guesses: list[tuple[str, str]], now: datetime = T0) -> list[BaseException | None]:
    """Run every (username, password) guess at once, one thread and one cursor each."""
    cursors = [con.cursor() for _ in guesses]
    start = threading.Barrier(len(guesses))
    out: list[BaseException | None] = [None] * len(guesses)

    def guess(i: int) -> None:
        start.wait()
        try:
            auth.authenticate(cursors[i], guesses[i][0], guesses[i][1], now=now)
        except BaseException as exc:  # every escape is recorded and judged
            out[i] = exc

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(guesses))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for c in cursors:
        c.close()
    return out


@pytest.mark.parametrize("n", [16, 32])
def test_parallel_wrong_guesses_get_at_most_five_checks(con, hasher, n):
    """n simultaneous wrong guesses: ≤ 5 password checks, only AuthError, then locked."""
    errors = _storm(con, [("li.na", f"guess number {i}") for i in range(n)])
    assert all(isinstance(e, auth.AuthError) for e in errors), {type(e) for e in errors}
    assert hasher.checks <= auth.MAX_FAILURES
    reasons = [e.reason for e in errors if isinstance(e, auth.AuthError)]
    assert reasons.count("bad_credentials") == auth.MAX_FAILURES
    assert reasons.count("locked") == n - auth.MAX_FAILURES
    with pytest.raises(auth.AuthError) as locked:
        auth.authenticate(con, "li.na", PASSWORD, now=T0 + timedelta(minutes=1))
    assert locked.value.reason == "locked"


def test_parallel_guesses_with_the_right_password_among_them(con, hasher):
    """32 guesses, every fourth right: no raw exception, the counter stays consistent."""
    guesses = [("li.na", PASSWORD if i % 4 == 0 else f"wrong guess {i}") for i in range(32)]
    errors = _storm(con, guesses)
    assert all(e is None or isinstance(e, auth.AuthError) for e in errors)
    failures, _ = con.execute(
        "SELECT failed_logins, locked_until FROM app_users WHERE username = 'li.na'"
    ).fetchall()[0]
    assert 0 <= failures < auth.MAX_FAILURES
    checks = hasher.checks
    assert checks == sum(1 for e in errors if e is None or e.reason == "bad_credentials")


def test_parallel_guesses_on_two_accounts_lock_each_separately(con, hasher):
    """16 guesses on each of two users: each locks after five checks of its own."""
    guesses = [(u, f"wrong guess {i}") for i in range(16) for u in ("li.na", "wang.wei")]
    errors = _storm(con, guesses)
    assert all(isinstance(e, auth.AuthError) for e in errors)
    assert hasher.checks <= 2 * auth.MAX_FAILURES
    locked = con.execute(
        "SELECT count(*) FROM app_users WHERE locked_until IS NOT NULL"
    ).fetchall()[0][0]
    assert locked == 2


def test_parallel_guesses_in_different_spellings_share_one_counter(con, hasher):
    """'LI.NA', ' li.na ' and full-width 'ｌｉ.ｎａ' are one account: one lock-out for all."""
    spellings = ["li.na", "LI.NA", " li.na ", "Li.Na\t", "ｌｉ.ｎａ"]
    errors = _storm(con, [(spellings[i % 5], f"wrong guess {i}") for i in range(32)])
    assert all(isinstance(e, auth.AuthError) for e in errors)
    assert hasher.checks <= auth.MAX_FAILURES


def test_parallel_unknown_users_raise_only_auth_errors(con, hasher):
    """32 guesses for names that do not exist: each an AuthError, no password check at all."""
    errors = _storm(con, [(f"ghost{i % 3}", "whatever 123") for i in range(32)])
    assert all(isinstance(e, auth.AuthError) and e.reason == "bad_credentials" for e in errors)
    assert hasher.checks == 0


def test_database_failure_is_an_auth_error(con):
    """A closed cursor (database gone) gives AuthError 'unavailable', not a duckdb exception."""
    cur = con.cursor()
    cur.close()
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate(cur, "li.na", PASSWORD, now=T0)
    assert err.value.reason == "unavailable"


def test_a_caller_inside_a_transaction_gets_an_auth_error(con):
    """authenticate on a cursor already inside a transaction refuses cleanly."""
    cur = con.cursor()
    cur.execute("BEGIN TRANSACTION")
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate(cur, "li.na", PASSWORD, now=T0)
    assert err.value.reason == "unavailable"
    cur.execute("ROLLBACK")
