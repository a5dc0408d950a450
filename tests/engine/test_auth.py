"""Local login: hashing, lock-out, sessions, audit; and row scope in every KPI entry point."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine import auth, db, kpis

T0 = datetime(2026, 11, 1, 9, 0)


@pytest.fixture
def con():
    c = db.connect(":memory:")
    c.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙')")  # a scope names real regions
    auth.create_user(c, "li.na", "correct horse 1", "regional_manager", regions=[1], now=T0)
    yield c
    c.close()


def test_password_never_stored_or_logged_in_clear(con):
    """The table holds an argon2id hash; neither the audit log nor the hash contains the text."""
    with pytest.raises(auth.AuthError):
        auth.authenticate(con, "li.na", "wrong secret 9", now=T0)
    auth.authenticate(con, "li.na", "correct horse 1", now=T0)
    stored = con.execute("SELECT password_hash FROM app_users").fetchall()[0][0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    dump = " ".join(str(r) for r in con.execute("SELECT * FROM audit_log").fetchall())
    assert "correct horse" not in dump and "wrong secret" not in dump and "$argon2" not in dump


def test_hashes_are_salted():
    """The same password hashes differently twice."""
    assert auth.hash_password("same password") != auth.hash_password("same password")


def test_wrong_password_is_refused_with_generic_message(con):
    """Wrong password and unknown user give the same message."""
    with pytest.raises(auth.AuthError) as a:
        auth.authenticate(con, "li.na", "nope nope", now=T0)
    with pytest.raises(auth.AuthError) as b:
        auth.authenticate(con, "nobody", "nope nope", now=T0)
    assert str(a.value) == str(b.value) and a.value.reason == "bad_credentials"


def test_account_locks_after_repeated_failures_and_unlocks_later(con):
    """Five failures lock the account even for the right password until the lock expires."""
    for i in range(auth.MAX_FAILURES):
        with pytest.raises(auth.AuthError):
            auth.authenticate(con, "li.na", f"bad {i}xxxxx", now=T0)
    with pytest.raises(auth.AuthError) as locked:
        auth.authenticate(con, "li.na", "correct horse 1", now=T0 + timedelta(minutes=1))
    assert locked.value.reason == "locked"
    later = T0 + timedelta(minutes=auth.LOCK_MINUTES + 1)
    user = auth.authenticate(con, "li.na", "correct horse 1", now=later)
    assert user.role == "regional_manager" and user.scope.regions == (1,)
    actions = [
        r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY logged_at").fetchall()
    ]
    assert actions.count("login_failed") == auth.MAX_FAILURES and "login_refused" in actions
    assert actions[-1] == "login"


def test_session_expiry():
    """A session idle longer than the timeout has expired; a recent one has not."""
    assert auth.session_expired(T0, T0 + timedelta(minutes=auth.SESSION_MINUTES + 1))
    assert not auth.session_expired(T0, T0 + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "boss"}, "unknown role"),
        ({"username": " "}, "empty"),
        ({"password": "short"}, "at least 8"),
        ({"username": "li.na"}, "already exists"),
    ],
)
def test_bad_user_definitions_are_rejected(con, kwargs, message):
    """Unknown roles, empty names, short passwords and duplicates are refused."""
    args = {"username": "wang.wei", "password": "long enough 1", "role": "analyst"} | kwargs
    with pytest.raises(ValueError, match=message):
        auth.create_user(con, **args)


def test_scope_outside_regions_is_refused():
    """Asking explicitly for another region's rows raises ScopeError."""
    with pytest.raises(auth.ScopeError):
        auth.Scope(regions=(1,)).clip_regions([2])


SCOPED = auth.Scope(regions=(1,))


@pytest.mark.parametrize("name", sorted(kpis.FUNCS))
def test_kpi_scope_never_leaks_other_regions(world, name):
    """A region-1 manager asking for everything gets exactly region 1's figure."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    fn = kpis.FUNCS[name]
    assert fn(cur, lo, hi, (), SCOPED) == pytest.approx(fn(cur, lo, hi, (1,)))
    if name in ("gmv", "paid_orders", "active_buyers", "leader_commission"):
        assert fn(cur, lo, hi, (), SCOPED) < fn(cur, lo, hi, ())


@pytest.mark.parametrize(
    "name",
    ["by_region", "community_ranking", "trend", "repurchase_trend", "by_category", "summary"],
)
def test_kpi_tables_respect_scope(world, name):
    """Tables for a scoped user equal the region-1 tables, never all regions."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    fn = getattr(kpis, name)
    scoped = fn(cur, lo, hi, regions=(), scope=SCOPED)
    own = fn(cur, lo, hi, regions=(1,))
    assert scoped.equals(own)
    if name == "by_region":
        assert set(scoped["region_id"]) == {1}
    if name == "community_ranking":
        regions = dict(
            cur.execute("SELECT c.community_id, c.region_id FROM communities c").fetchall()
        )
        assert {regions[c] for c in scoped["community_id"]} == {1}


def test_find_user_and_user_list_without_hashes(con):
    """find_user gives role and scope (None for a stranger); the user list holds no hash."""
    user = auth.find_user(con, "li.na")
    assert (user.role, user.scope.regions, user.scope.warehouses) == (
        "regional_manager",
        (1,),
        None,
    )
    assert auth.find_user(con, "nobody@example.com") is None
    table = auth.users(con)
    assert table["username"].tolist() == ["li.na"]
    assert not {c for c in table.columns if "hash" in c or "password" in c}
