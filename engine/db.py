"""Opening Linli's DuckDB file: schema, version checks, migrations, lock and damage errors.

A file that is not a DuckDB database (a SQLite file, text, an empty file, a directory) is
refused by its header before DuckDB sees it: DuckDB would otherwise try to download the
extension that reads it. A DuckDB file whose blocks fail their checksums is refused on open
(:func:`verify` reads every block of Linli's tables once), so pages never meet the damage.
Extensions are never installed from the network by a Linli connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "linli.duckdb"
SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
# No download, ever: a file type DuckDB does not know natively is an error, not a fetch.
CONFIG: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False}
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_REBUILD = (
    "Restore it from a backup, or move it aside and rebuild the demo data with "
    "`python -m data.generate --force` (or import your data into a new file)."
)

# version -> function upgrading a database *from* that version to version + 1.
Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: dict[int, Migration] = {}


class DatabaseError(RuntimeError):
    """A database cannot be opened or used; the message says why and what to do."""


class DatabaseLocked(DatabaseError):  # noqa: N818 - name used across the codebase
    """Another process holds the DuckDB file for writing."""


class SchemaVersionError(DatabaseError):
    """The file's schema version cannot be brought to this Linli's version."""


def db_path() -> Path:
    """Return the database path: ``LINLI_DB`` or ``data/linli.duckdb``.

    Returns
    -------
    Path
        The configured database file.
    """
    return Path(os.environ.get("LINLI_DB") or DEFAULT_DB)


def connect(
    path: str | Path | None = None, read_only: bool = False, verify_blocks: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open a Linli database, creating the schema in a new file and checking its version.

    Parameters
    ----------
    path
        File to open; ``None`` uses :func:`db_path`; ``":memory:"`` an in-memory database.
    read_only
        Open without write access (several readers may share a file).
    verify_blocks
        Read every table once to find damaged blocks (:func:`verify`); on by default.

    Returns
    -------
    duckdb.DuckDBPyConnection
        A connection whose schema is at :data:`SCHEMA_VERSION`.

    Raises
    ------
    DatabaseLocked
        When another process holds the file.
    SchemaVersionError
        When the file's schema is newer than this code or cannot be migrated.
    DatabaseError
        When the file is not a DuckDB database (SQLite, text, empty, a folder, a URL) or is
        damaged (truncated, or a block fails its checksum).
    """
    target = str(db_path() if path is None else path)
    if target != ":memory:":
        _check_file(target)
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"Cannot create the folder of the database {target}: {exc}"
            ) from None
    try:
        con = duckdb.connect(target, read_only=read_only, config=CONFIG)
    except duckdb.IOException as exc:
        raise _lock_error(target, exc) from None
    except duckdb.Error as exc:
        raise _damaged(target, exc) from None
    try:
        con.execute("SET enable_progress_bar = false")
        ensure_schema(con, read_only=read_only)
        if verify_blocks and target != ":memory:":
            verify(con, target)
    except DatabaseError:
        con.close()
        raise
    except (duckdb.Error, ValueError, TypeError) as exc:
        con.close()
        raise _damaged(target, exc) from None
    except Exception:
        con.close()
        raise
    return con


def _check_file(target: str) -> None:
    """Refuse a path that is not a local DuckDB file by its header (before DuckDB guesses)."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", target) and not re.match(r"^[A-Za-z]:[\\/]", target):
        raise DatabaseError(
            f"The database {target!r} is not a local file path (LINLI_DB takes a DuckDB file "
            "on this machine, not a URL or a remote service)."
        )
    path = Path(target)
    if not path.exists():
        return
    if path.is_dir():
        raise DatabaseError(
            f"The database {target} is a folder, not a file; set LINLI_DB to a file."
        )
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise DatabaseError(f"Cannot read the database {target}: {exc}") from None
    if head.startswith(SQLITE_MAGIC):
        raise DatabaseError(
            f"The database {target} is a SQLite file, not DuckDB. Linli keeps its data in "
            "DuckDB: point LINLI_DB at a DuckDB file, and bring SQLite tables in with the "
            "file or SQL import (`python -m connectors.load`)."
        )
    if not head:
        raise DatabaseError(
            f"The database {target} is an empty file (0 bytes), not a DuckDB database. Delete "
            "it to start a new database there, or point LINLI_DB at another file."
        )
    if head[8:12] != DUCKDB_MAGIC:
        raise DatabaseError(
            f"The database {target} is not a DuckDB file (its header does not say DUCK). "
            "Point LINLI_DB at a DuckDB database file."
        )


def verify(con: duckdb.DuckDBPyConnection, target: str = "the database") -> None:
    """Read every block of every table once, so a failed checksum is found on open.

    DuckDB checks a block's checksum only when it reads the block; without this a damaged
    file opens and a page fails later, in the middle of a query. Measured in
    ``bench/security.py``: 34 ms for the small world, 98 ms for 5 million order lines.

    Parameters
    ----------
    con
        An open connection.
    target
        The file's name, for the message.

    Raises
    ------
    DatabaseError
        When a block fails its checksum or cannot be read.
    """
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    for (name,) in names:
        if not _TABLE_NAME.match(name):
            continue  # not one of Linli's tables: no page reads it, and it is not interpolated
        try:
            con.execute(f"SELECT bit_xor(hash(COLUMNS(*))) FROM {name}").fetchall()
        except duckdb.Error as exc:
            raise DatabaseError(
                f"The database {target} is damaged: reading table {name} failed ({exc}). "
                + _REBUILD
            ) from None


def _damaged(target: str, exc: Exception) -> DatabaseError:
    return DatabaseError(f"The database {target} is damaged or unreadable: {exc}. " + _REBUILD)


def _lock_error(target: str, exc: Exception) -> DatabaseError:
    text = str(exc)
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        holder = f" (process {pid.group(1)})" if pid else ""
        return DatabaseLocked(
            f"The database {target} is in use by another process{holder}. DuckDB allows one "
            "writer per file: stop the running Linli app (or the other tool) and try again, "
            "or point LINLI_DB at another file."
        )
    if "not a valid DuckDB database" in text or "read enough bytes" in text:
        return _damaged(target, exc)
    return DatabaseError(f"Cannot open the database {target}: {text}")


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """Return the schema version recorded in a database, or ``None`` for an empty file.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    int or None
        The highest version row, ``None`` when there is no ``schema_version`` table, and 0
        when the table exists but is empty (a file from before versioning).
    """
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return None
    row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]
    return 0 if row is None else int(row)


def _schema_script(con: duckdb.DuckDBPyConnection) -> str:
    """The schema script without the column additions to tables that are views here (a
    serving database reads its input tables from the Parquet lake, see engine.lake)."""
    views = {
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    if not views:
        return text
    alter = re.compile(r"^ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS ")
    keep = [ln for ln in text.splitlines() if not ((m := alter.match(ln)) and m.group(1) in views)]
    return "\n".join(keep)


def ensure_schema(con: duckdb.DuckDBPyConnection, read_only: bool = False) -> None:
    """Create the schema in an empty database, or migrate an older one to the current version.

    Parameters
    ----------
    con
        An open connection.
    read_only
        When true, only check the version (a read-only file cannot be migrated).

    Raises
    ------
    SchemaVersionError
        When the version is newer than :data:`SCHEMA_VERSION`, or older without a migration.
    """
    version = schema_version(con)
    if version is None:
        n_tables = con.execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0]
        if read_only:
            raise SchemaVersionError("The database is empty and was opened read-only.")
        if n_tables:
            version = 0
        else:
            con.execute(SCHEMA_PATH.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [SCHEMA_VERSION])
            return
    if version == SCHEMA_VERSION:
        if not read_only:
            # Idempotent (IF NOT EXISTS everywhere): adds tables new within this version.
            con.execute(_schema_script(con))
        return
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"The database has schema version {version}, newer than this Linli's version "
            f"{SCHEMA_VERSION}. Upgrade Linli, or open another file (LINLI_DB)."
        )
    missing = [v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS]
    if missing:
        raise SchemaVersionError(
            f"The database has schema version {version}; this Linli needs version "
            f"{SCHEMA_VERSION} and has no migration from version {missing[0]}. Rebuild it with "
            "`python -m data.generate --force` or import your data into a new file."
        )
    if read_only:
        raise SchemaVersionError(
            f"The database has schema version {version} and needs migrating to "
            f"{SCHEMA_VERSION}; open it once with write access."
        )
    for v in range(version, SCHEMA_VERSION):
        con.execute("BEGIN TRANSACTION")
        try:
            MIGRATIONS[v](con)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [v + 1])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    """Return one ``meta`` value (for example ``as_of``), or ``default`` when absent.

    Parameters
    ----------
    con
        An open connection.
    key
        The meta key.
    default
        Value returned when the key is missing.

    Returns
    -------
    str or None
        The stored value.
    """
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Store one ``meta`` value, replacing the old one.

    Parameters
    ----------
    con
        A writable connection (the caller's transaction, if any, covers the write).
    key
        The meta key.
    value
        The value, as text.

    Raises
    ------
    ValueError
        When ``key`` is empty or ``value`` is not text.
    """
    if not key:
        raise ValueError("a meta key must not be empty")
    if not isinstance(value, str):
        raise ValueError(f"meta values are text, got {type(value).__name__} for {key!r}")
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
