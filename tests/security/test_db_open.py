"""Opening LINLI_DB: files that are not Linli's DuckDB database get a clear DatabaseError.

A SQLite file must not make DuckDB fetch an extension; a damaged DuckDB file (truncated, or a
block failing its checksum) is refused on open instead of failing later inside a page.
"""

from __future__ import annotations

import shutil
import sqlite3

import duckdb
import pytest

from engine import db

BLOCK = 262_144  # DuckDB's block size
HEADER = 3 * 4096  # the file header and two database headers precede block 0


@pytest.fixture
def spy_connect(monkeypatch):
    """Record every duckdb.connect of engine.db (a file refused by its header never gets one)."""
    calls = []
    real = duckdb.connect

    def connect(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(db.duckdb, "connect", connect)
    return calls


def _sqlite(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (order_id INTEGER)")
    con.commit()
    con.close()


def _corrupt_block(world_file, tmp_path, table: str = "order_items"):
    """A copy of the world whose first data block of ``table`` fails its checksum.

    The block is looked up in the copy: the shared world file may be open in this process
    with the app's configuration, which a second, differently configured handle may not join.
    """
    path = tmp_path / "corrupt.duckdb"
    shutil.copy(world_file, path)
    con = duckdb.connect(str(path), read_only=True)
    block = con.execute(
        f"SELECT min(block_id) FROM pragma_storage_info('{table}') WHERE block_id >= 0"
    ).fetchall()[0][0]
    con.close()
    with path.open("r+b") as f:
        f.seek(HEADER + block * BLOCK + 64)
        data = bytearray(f.read(512))
        f.seek(HEADER + block * BLOCK + 64)
        f.write(bytes(b ^ 0xFF for b in data))
    return path


HOSTILE_FILES = {
    "sqlite": (lambda p: _sqlite(p), "SQLite"),
    "text": (lambda p: p.write_text("order_id,qty\n1,2\n" * 50), "not a DuckDB file"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "random bytes": (lambda p: p.write_bytes(bytes(range(256)) * 64), "not a DuckDB file"),
    "folder": (lambda p: p.mkdir(), "folder"),
    "sqlite header only": (lambda p: p.write_bytes(b"SQLite format 3\x00"), "SQLite"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_not_a_duckdb_file_is_refused_by_its_header(tmp_path, spy_connect, kind):
    """SQLite, text, empty, random files and folders: DatabaseError, DuckDB never opens them."""
    make, words = HOSTILE_FILES[kind]
    path = tmp_path / "linli.duckdb"
    make(path)
    with pytest.raises(db.DatabaseError, match=words):
        db.connect(path)
    assert spy_connect == []  # so no extension can be fetched to read it


@pytest.mark.parametrize(
    "target", ["md:linli", "s3://bucket/linli.duckdb", "https://example.com/x.duckdb"]
)
def test_remote_targets_are_refused(spy_connect, target):
    """A URL or a service name as LINLI_DB is refused (it would load a network extension)."""
    with pytest.raises(db.DatabaseError, match="not a local file"):
        db.connect(target)
    assert spy_connect == []


def test_connections_never_install_extensions():
    """A Linli connection has extension auto-install off."""
    con = db.connect(":memory:")
    value = con.execute(
        "SELECT value FROM duckdb_settings() WHERE name = 'autoinstall_known_extensions'"
    ).fetchall()[0][0]
    assert value == "false"


def test_truncated_database_is_refused(world_file, tmp_path):
    """A copy cut to a third of its length: DatabaseError saying it is damaged."""
    path = tmp_path / "cut.duckdb"
    data = world_file.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(db.DatabaseError, match="damaged"):
        db.connect(path)


@pytest.mark.parametrize("table", ["order_items", "orders", "users"])
def test_block_failing_its_checksum_is_refused_on_open(world_file, tmp_path, table):
    """A flipped data block is found when the file opens, not by a page's query later."""
    path = _corrupt_block(world_file, tmp_path, table)
    with pytest.raises(db.DatabaseError, match=f"damaged: reading table {table}"):
        db.connect(path)
    with pytest.raises(db.DatabaseError, match="damaged"):
        db.connect(path, read_only=True)


def test_intact_world_still_opens(world_file, tmp_path):
    """The check passes an intact file (a copy of the small world)."""
    path = tmp_path / "ok.duckdb"
    shutil.copy(world_file, path)
    con = db.connect(path)
    assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] > 0
    con.close()


def test_text_schema_version_is_a_database_error(tmp_path):
    """A schema_version holding text is a DatabaseError, not a raw ValueError."""
    path = tmp_path / "odd.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_version (version VARCHAR); INSERT INTO schema_version VALUES ('x')"
    )
    con.close()
    with pytest.raises(db.DatabaseError):
        db.connect(path)


def test_parent_that_is_a_file_is_a_database_error(tmp_path):
    """LINLI_DB below a regular file: DatabaseError, not a raw OSError."""
    (tmp_path / "plain").write_text("x")
    with pytest.raises(db.DatabaseError, match="folder"):
        db.connect(tmp_path / "plain" / "linli.duckdb")


def test_app_shows_the_damage_not_a_traceback(app, world_file, tmp_path, monkeypatch):
    """The app on a damaged file shows the database error and no exception."""
    path = _corrupt_block(world_file, tmp_path)
    monkeypatch.setenv("LINLI_DB", str(path))
    at = app("en")
    at.run()
    assert not at.exception
    assert any("damaged" in e.value for e in at.error)


def test_app_on_a_sqlite_file(app, tmp_path, monkeypatch):
    """The app pointed at a SQLite file says so and stops."""
    path = tmp_path / "shop.sqlite"
    _sqlite(path)
    monkeypatch.setenv("LINLI_DB", str(path))
    at = app("en")
    at.run()
    assert not at.exception
    assert any("SQLite" in e.value for e in at.error)
