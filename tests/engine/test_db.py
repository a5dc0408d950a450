"""Opening databases: new files get the schema, versions are checked, locks are explained."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from engine import db


def test_new_file_gets_schema_and_version(tmp_path):
    """A new file has every core table and one version row at the current version."""
    con = db.connect(tmp_path / "new.duckdb")
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert db.schema_version(con) == db.SCHEMA_VERSION
    for t in (
        "regions",
        "communities",
        "pickup_points",
        "leaders",
        "warehouses",
        "vehicles",
        "suppliers",
        "skus",
        "users",
        "orders",
        "order_items",
        "browse_events",
        "campaigns",
        "inventory",
        "chat_activity",
        "topics",
        "weather",
        "calendar",
        "feedback",
        "devices",
        "telemetry",
        "alerts",
        "saved_rules",
        "route_plans",
    ):
        assert t in tables, t
    con.close()


def test_reopening_keeps_data(tmp_path):
    """Reopening a current file changes nothing."""
    path = tmp_path / "keep.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO meta VALUES ('k', 'v')")
    con.close()
    con = db.connect(path)
    assert db.get_meta(con, "k") == "v"
    assert con.execute("SELECT count(*) FROM schema_version").fetchall()[0][0] == 1
    con.close()


def test_newer_version_stops_with_both_versions(tmp_path):
    """A file from a newer Linli is refused, naming both versions."""
    path = tmp_path / "newer.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO schema_version (version) VALUES (?)", [db.SCHEMA_VERSION + 5])
    con.close()
    with pytest.raises(db.SchemaVersionError) as err:
        db.connect(path)
    assert str(db.SCHEMA_VERSION + 5) in str(err.value) and str(db.SCHEMA_VERSION) in str(err.value)


def test_older_version_without_migration_is_explained(tmp_path):
    """A pre-versioning file with tables but no version row cannot be silently reused."""
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE orders (id INTEGER)")
    raw.close()
    with pytest.raises(db.SchemaVersionError, match="version 0"):
        db.connect(path)


def test_older_version_is_migrated(tmp_path, monkeypatch):
    """With a migration registered, an older file is upgraded and gets a new version row."""
    path = tmp_path / "migrate.duckdb"
    db.connect(path).close()
    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(
        db.MIGRATIONS,
        db.SCHEMA_VERSION - 1,
        lambda c: c.execute("ALTER TABLE meta ADD COLUMN note VARCHAR"),
    )
    con = db.connect(path)
    assert db.schema_version(con) == db.SCHEMA_VERSION
    cols = [r[0] for r in con.execute("DESCRIBE meta").fetchall()]
    assert "note" in cols
    con.close()


def test_locked_file_gives_clear_message(tmp_path):
    """A file held by another process raises DatabaseLocked with advice, not a traceback."""
    path = tmp_path / "locked.duckdb"
    db.connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("ready", flush=True)
        time.sleep(30)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        t0 = time.time()
        with pytest.raises(db.DatabaseLocked) as err:
            db.connect(path)
        assert "in use by another process" in str(err.value)
        assert str(holder.pid) in str(err.value)
        assert time.time() - t0 < 10
    finally:
        holder.kill()
        holder.wait()
