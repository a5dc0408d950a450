"""Identity: hostile usernames and passwords, one spelling per user, scopes that must be meant.

Covers issue 20's auth items: a 1 MB username reaching the audit log, blank passwords,
usernames differing only in case or padding, empty or unknown scopes at user creation (engine,
``python -m ops.users`` and the admin page).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from engine import audit, auth, db
from ops import users as users_cli

T0 = datetime(2026, 11, 1, 9, 0)
PASSWORD = "correct horse 1"


@pytest.fixture
def con():
    c = db.connect(":memory:")
    c.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙'), (2, '天心区', '长沙')")
    c.execute("INSERT INTO warehouses VALUES (1, '岳麓仓', 1, 28.2, 112.9)")
    auth.create_user(c, "li.na", PASSWORD, "regional_manager", regions=[1], now=T0)
    yield c
    c.close()


def _audit_names(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT username FROM audit_log").fetchall()]


# ----------------------------------------------------------------- hostile usernames at login
HOSTILE_LOGIN_NAMES = {
    "1 MB": "a" * 1_000_000,
    "65 characters": "b" * 65,
    "NUL and newline": "li.na\x00\nadmin",
    "ANSI escape": "\x1b[31mroot\x1b[0m",
    "only spaces": "     ",
    "empty": "",
    "right-to-left override": "li\u202ean.il",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_LOGIN_NAMES))
def test_hostile_username_at_login_is_refused_and_audited_short(con, name):
    """The login is refused as bad credentials; the audit log keeps ≤ 64 printable chars."""
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate(con, HOSTILE_LOGIN_NAMES[name], "whatever 123", now=T0)
    assert err.value.reason == "bad_credentials"
    logged = [n for n in _audit_names(con) if n != "li.na"]
    assert logged and all(len(n) <= auth.MAX_USERNAME and n.isprintable() for n in logged)


def test_non_text_username_is_refused(con):
    """A username that is not text is a refused login, not a TypeError."""
    with pytest.raises(auth.AuthError):
        auth.authenticate(con, None, PASSWORD, now=T0)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a" * 1_000_000, "b" * 65, "li na", "tab\tname", "x\x00y", "   "])
def test_hostile_username_cannot_be_created(con, name):
    """Over-long names, inner spaces and control characters are refused at creation."""
    with pytest.raises(ValueError, match="username"):
        auth.create_user(con, name, PASSWORD, "analyst")


def test_audit_record_of_a_created_user_is_the_normalised_name(con):
    """The audit log names the user by the stored spelling."""
    auth.create_user(con, "  Wang.Wei ", PASSWORD, "analyst", now=T0)
    assert "wang.wei" in _audit_names(con) and "  Wang.Wei " not in _audit_names(con)


# ----------------------------------------------------------------- one spelling per user
@pytest.mark.parametrize(
    "twin", ["LI.NA", " li.na", "li.na ", "Li.Na\t", "ｌｉ．ｎａ", "ＬＩ.ＮＡ"]
)
def test_case_and_padding_twins_are_the_same_user(con, twin):
    """A name differing only in case, padding or width is refused as taken, and logs in."""
    with pytest.raises(ValueError, match="already exists"):
        auth.create_user(con, twin, PASSWORD, "analyst")
    assert auth.authenticate(con, twin, PASSWORD, now=T0).username == "li.na"
    assert auth.find_user(con, twin).username == "li.na"


def test_failures_count_across_spellings(con):
    """Wrong guesses under different spellings add up to one lock-out."""
    for i, name in enumerate(["li.na", "LI.NA", " li.na", "Li.Na", "ｌｉ.ｎａ"]):
        with pytest.raises(auth.AuthError):
            auth.authenticate(con, name, f"wrong {i} xxxxx", now=T0)
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate(con, "li.na", PASSWORD, now=T0)
    assert err.value.reason == "locked"


# ----------------------------------------------------------------- passwords
BLANK_PASSWORDS = {
    "8 spaces": " " * 8,
    "40 spaces": " " * 40,
    "tabs and newlines": "\t\n\t\n\t\n\t\n",
    "ideographic spaces": "\u3000" * 8,
    "7 characters padded": "   abcdefg   ",
    "too long": "x" * 1025,
}


@pytest.mark.parametrize("pw", sorted(BLANK_PASSWORDS))
def test_blank_padded_or_huge_passwords_are_refused(con, pw):
    """A password of spaces (any kind), one short once trimmed, or over the limit is refused."""
    with pytest.raises(ValueError, match="password"):
        auth.create_user(con, "wang.wei", BLANK_PASSWORDS[pw], "analyst")


def test_huge_password_at_login_is_a_failure_without_hashing(con, monkeypatch):
    """A 1 MB password is refused and counted, without running the hash on it."""
    seen = []
    real = auth._HASHER

    class Spy:
        def verify(self, h, p):
            seen.append(len(p))
            return real.verify(h, p)

        def hash(self, p):
            return real.hash(p)

    monkeypatch.setattr(auth, "_HASHER", Spy())
    with pytest.raises(auth.AuthError):
        auth.authenticate(con, "li.na", "p" * 1_000_000, now=T0)
    assert seen == []
    assert con.execute("SELECT failed_logins FROM app_users").fetchall()[0][0] == 1


# ----------------------------------------------------------------- scopes at creation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "regional_manager"}, "needs regions"),
        ({"role": "regional_manager", "regions": []}, "empty region"),
        ({"role": "analyst", "regions": []}, "empty region"),
        ({"role": "dispatcher", "warehouses": []}, "empty region or warehouse"),
        ({"role": "regional_manager", "regions": [99]}, "unknown regions"),
        ({"role": "regional_manager", "regions": [1, 99]}, "unknown regions"),
        ({"role": "dispatcher", "warehouses": [7]}, "unknown warehouses"),
        ({"role": "regional_manager", "regions": ["1"]}, "integer"),
        ({"role": "regional_manager", "regions": [True]}, "integer"),
    ],
)
def test_scopes_that_are_not_meant_are_refused(con, kwargs, message):
    """No regions for a regional role, an empty list, unknown or non-integer ids: refused."""
    with pytest.raises((ValueError, TypeError), match=message):
        auth.create_user(con, "wang.wei", PASSWORD, **kwargs)


def test_an_explicit_empty_scope_sees_nothing(con):
    """Asked for explicitly, an empty scope is stored and the user sees no rows."""
    user = auth.create_user(
        con, "new.mgr", PASSWORD, "regional_manager", regions=[], allow_empty_scope=True
    )
    assert user.scope.regions == () and user.scope.empty
    with pytest.raises(auth.EmptyScope):
        user.scope.clip_regions([])


def test_stored_regional_manager_without_regions_sees_nothing(con):
    """A legacy row (regional manager, regions NULL) gets an empty scope at login, not all."""
    con.execute(
        "INSERT INTO app_users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
        ["old.mgr", "regional_manager", auth.hash_password(PASSWORD), T0],
    )
    user = auth.authenticate(con, "old.mgr", PASSWORD, now=T0)
    assert user.scope.regions == ()
    with pytest.raises(auth.EmptyScope):
        user.scope.communities(con)


# ----------------------------------------------------------------- python -m ops.users
@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    path = tmp_path / "users.duckdb"
    c = db.connect(path)
    c.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙')")
    c.close()
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setenv("LINLI_NEW_PASSWORD", PASSWORD)
    return path


def _stored(path) -> list[tuple]:
    c = db.connect(path, read_only=True)
    try:
        return c.execute("SELECT username, role, regions FROM app_users").fetchall()
    finally:
        c.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mgr", "--role", "regional_manager", "--regions", ","], "empty region"),
        (["mgr", "--role", "regional_manager", "--regions", ""], "empty region"),
        (["mgr", "--role", "regional_manager"], "needs regions"),
        (["mgr", "--role", "regional_manager", "--regions", "99"], "unknown regions"),
        (["mgr", "--role", "regional_manager", "--regions", "1,x"], "comma-separated ids"),
        (["mgr", "--role", "regional_manager", "--regions", "-1"], "comma-separated ids"),
        (["mgr", "--role", "analyst", "--regions", " , "], "empty region"),
    ],
)
def test_cli_refuses_scopes_not_meant(cli_db, capsys, argv, message):
    """`python -m ops.users` exits 2 with a clear message and writes no user."""
    assert users_cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert _stored(cli_db) == []


def test_cli_empty_scope_when_asked_and_normalised_name(cli_db):
    """--empty-scope creates a manager who sees nothing; the name is stored normalised."""
    argv = [" New.Mgr ", "--role", "regional_manager", "--regions", ",", "--empty-scope"]
    assert users_cli.main(argv) == 0
    assert _stored(cli_db) == [("new.mgr", "regional_manager", [])]
    assert users_cli.main(["NEW.MGR", "--role", "analyst"]) == 2


# ----------------------------------------------------------------- the admin page
def _admin_form(app, role: str, regions=(), empty=False):
    from dashboard import i18n, nav

    def en(key):
        return i18n.table()[key]["en"]

    at = app("en", user=auth.User("root", "admin", "Root"), last_seen=datetime.now())
    at.run()
    at.switch_page(str(nav.ROOT / "pages" / "admin.py")).run()
    name = f"m{datetime.now():%H%M%S%f}"
    at.text_input[0].input(name)
    at.text_input[1].input("New manager")
    at.text_input[2].input("a long enough password")
    next(b for b in at.selectbox if b.label == en("adm_role")).select(role)
    for r in regions:
        next(m for m in at.multiselect if m.label == en("filter_regions")).select(r)
    if empty:
        next(c for c in at.checkbox if c.label == en("sec_adm_empty_scope")).check()
    next(b for b in at.button if b.label == en("adm_create")).click().run()
    return at, name


def test_admin_page_refuses_a_regional_manager_without_regions(app, monkeypatch):
    """An empty region selection for a regional manager is an error, not a user who sees all."""
    monkeypatch.setenv("LINLI_AUTH", "local")
    from dashboard import db as appdb

    at, name = _admin_form(app, "regional_manager")
    assert not at.exception
    assert any("needs regions" in e.value for e in at.error)
    assert auth.find_user(appdb.cursor(), name) is None


def test_admin_page_explicit_empty_scope(app, monkeypatch):
    """With 'no regions yet' ticked, the manager is created and sees nothing."""
    monkeypatch.setenv("LINLI_AUTH", "local")
    from dashboard import db as appdb

    at, name = _admin_form(app, "regional_manager", empty=True)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    user = auth.find_user(appdb.cursor(), name)
    assert user is not None and user.scope.regions == ()
    at.run()  # the users table above the form lists the new user from the next run
    table = at.dataframe[0].value
    assert table.loc[table["username"] == name, "regions"].iloc[0] == "none (sees no data)"


def test_empty_scope_user_sees_a_note_not_data(app, monkeypatch):
    """Signed in with an empty scope, the app shows the note and no KPI at all."""
    monkeypatch.setenv("LINLI_AUTH", "local")
    user = auth.User("nobody.mgr", "regional_manager", "N", auth.Scope(regions=()))
    at = app("en", user=user, last_seen=datetime.now())
    at.run()
    assert not at.exception
    assert not at.metric
    assert any("nothing to show" in i.value for i in at.info)


def test_audit_detail_never_holds_a_password(con):
    """Refused creations leave the password out of the audit log."""
    with pytest.raises(ValueError):
        auth.create_user(con, "x" * 70, "secret pass 99", "analyst")
    assert "secret pass" not in str(audit.entries(con).to_dict())
