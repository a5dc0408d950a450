"""The audit log (engine.audit): one row shape for every writer, newest first."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from engine import audit, auth, db
from engine.rules import library

T0 = datetime(2026, 11, 1, 9, 0)


@pytest.fixture
def con():
    c = db.connect(":memory:")
    yield c
    c.close()


def test_record_writes_json_detail_or_null(con):
    """A detail mapping is stored as a JSON object (Chinese kept), no detail as NULL."""
    audit.record(con, "li.na", "login", now=T0)
    audit.record(con, None, "import", {"source": "订单.csv", "at": T0}, T0 + timedelta(1))
    rows = con.execute("SELECT logged_at, username, action, detail FROM audit_log").fetchall()
    assert rows[0] == (T0, "li.na", "login", None)
    assert rows[1][:3] == (T0 + timedelta(1), None, "import")
    assert "订单" in rows[1][3]
    assert json.loads(rows[1][3]) == {"source": "订单.csv", "at": str(T0)}


@pytest.mark.parametrize(
    ("action", "detail", "match"), [("", None, "action"), ("x", "text", "mapping")]
)
def test_record_refuses_bad_entries(con, action, detail, match):
    """An empty action or a detail that is not a mapping is a clear error, nothing written."""
    with pytest.raises(ValueError, match=match):
        audit.record(con, "u", action, detail)
    assert audit.entries(con).empty


def test_entries_newest_first_and_limited(con):
    """entries lists the latest first, at most ``limit``."""
    for i in range(5):
        audit.record(con, f"u{i}", "login", now=T0 + timedelta(minutes=i))
    log = audit.entries(con, limit=3)
    assert log["username"].tolist() == ["u4", "u3", "u2"]
    assert list(log.columns) == ["logged_at", "username", "action", "detail"]
    with pytest.raises(ValueError, match="negative"):
        audit.entries(con, -1)


def test_every_writer_leaves_the_same_shape(con):
    """Users, logins and rule changes all write a JSON object (or NULL) as detail."""
    auth.create_user(con, "li.na", "correct horse 1", "analyst", now=T0)
    auth.authenticate(con, "li.na", "correct horse 1", now=T0)
    library.save(con, "规则一", "前 5", "li.na")
    library.delete(con, "规则一", "li.na")
    details = [r[0] for r in con.execute("SELECT detail FROM audit_log").fetchall()]
    assert len(details) == 4
    assert all(d is None or isinstance(json.loads(d), dict) for d in details)
