"""Opening Linli's DuckDB file: schema, version checks, migrations and lock errors."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "linli.duckdb"

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


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a Linli database, creating the schema in a new file and checking its version.

    Parameters
    ----------
    path
        File to open; ``None`` uses :func:`db_path`; ``":memory:"`` an in-memory database.
    read_only
        Open without write access (several readers may share a file).

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
    """
    target = str(db_path() if path is None else path)
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        raise _lock_error(target, exc) from None
    con.execute("SET enable_progress_bar = false")
    try:
        ensure_schema(con, read_only=read_only)
    except Exception:
        con.close()
        raise
    return con


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
            con.execute(SCHEMA_PATH.read_text(encoding="utf-8"))
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
