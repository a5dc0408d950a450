"""Every input table of the registry syncs from MariaDB and PostgreSQL; KPIs are right at once."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime, time, timedelta

import duckdb
import numpy as np
import pytest

from connectors import sql, tables
from engine import afterload, clock, dataset, kpis
from tests.connectors.test_sql import SOURCES, _remote

TYPES = {
    "postgresql": {
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "str": "TEXT",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "bool": "BOOLEAN",
        "list": "TEXT",
        "minutes": "INTEGER",
    },
    "mysql": {
        "int": "BIGINT",
        "float": "DOUBLE",
        "str": "TEXT",
        "date": "DATE",
        "timestamp": "DATETIME(6)",
        "bool": "BOOLEAN",
        "list": "TEXT",
        "minutes": "INTEGER",
    },
}
QUOTE = {"postgresql": '"', "mysql": "`"}  # `condition` (weather) is reserved in MariaDB


def _rows(world, table: str) -> list[tuple]:
    spec = tables.spec(table)
    cols = ", ".join(spec.names)
    key = ", ".join(spec.key)
    return world.execute(f"SELECT {cols} FROM {table} ORDER BY {key}").fetchall()


def _synthetic(world, table: str, n: int = 20) -> list[tuple]:
    """Rows for a registry table the small world leaves empty: references point at real
    parents, other columns vary with the row number (so keys are distinct), dates end at as-of."""
    spec = tables.spec(table)
    refs = {r.column: r for r in spec.references}
    as_of = clock.as_of(world)
    parents = {
        c: [v[0] for v in world.execute(f"SELECT {r.key} FROM {r.table} ORDER BY 1").fetchall()]
        for c, r in refs.items()
    }
    make = {
        "int": lambda i: i + 1,
        "float": lambda i: 1.25 + i,
        "str": lambda i: f"s{i}",
        "date": lambda i: as_of - timedelta(days=i),
        "timestamp": lambda i: datetime.combine(as_of, time(8)) - timedelta(hours=i),
        "bool": lambda i: i % 2 == 0,
        "list": lambda i: [f"t{i}"],
        "minutes": lambda i: 480 + i,
    }
    return sorted(
        tuple(
            parents[c.name][i % len(parents[c.name])] if c.name in refs else make[c.kind](i)
            for c in spec.columns
        )
        for i in range(n)
    )


def _source_value(value):
    if isinstance(value, list):  # a tag list travels as text, as in an ERP's VARCHAR column
        return ",".join(value) or None
    return value


def _fill_source(remote, dialect: str, name: str, table: str, rows: list[tuple]) -> None:
    spec = tables.spec(table)
    q = QUOTE[dialect]
    cols = ", ".join(f"{q}{c.name}{q} {TYPES[dialect][c.kind]}" for c in spec.columns)
    cur = remote.cursor()
    cur.execute(f"CREATE TABLE {name} ({cols})")
    marks = ", ".join(["%s"] * len(spec.columns))
    data = [tuple(_source_value(v) for v in r) for r in rows]
    for i in range(0, len(data), 5000):
        cur.executemany(f"INSERT INTO {name} VALUES ({marks})", data[i : i + 5000])
    remote.commit()


@pytest.fixture(params=["postgresql", "mysql"])
def dialect_remote(request):
    """An open connection to the local server of the dialect and a unique table prefix."""
    remote = _remote(request.param)
    prefix = f"linli_s{uuid.uuid4().hex[:6]}_"
    yield request.param, remote, prefix
    remote.rollback()
    cur = remote.cursor()
    for t in tables.LOAD_ORDER:
        cur.execute(f"DROP TABLE IF EXISTS {prefix}{t}")
    remote.commit()
    remote.close()


@pytest.mark.integration
@pytest.mark.parametrize("table", tables.LOAD_ORDER)
def test_table_syncs_and_kpis_follow(world, world_file, tmp_path, dialect_remote, table):
    """The table emptied in Linli comes back whole from the source; KPIs equal the originals.

    A registry table the small world leaves empty is filled with synthetic rows instead."""
    dialect, remote, prefix = dialect_remote
    rows = _rows(world, table) or _synthetic(world, table)
    _fill_source(remote, dialect, prefix + table, table, rows)

    # The KPIs computed directly: the world itself, or a copy with the rows inserted directly.
    direct = duckdb.connect(str(shutil.copy(world_file, tmp_path / "direct.duckdb")))
    if not _rows(world, table):
        cols = tables.spec(table).names
        marks = ", ".join(["?"] * len(cols))
        direct.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
        afterload.rebuild(direct)
    as_of = clock.as_of(direct)
    start = as_of - timedelta(days=27)
    expected = kpis.summary(direct, start, as_of)
    direct.close()

    path = tmp_path / "linli.duckdb"
    shutil.copy(world_file, path)
    con = duckdb.connect(str(path))
    con.execute(f"DELETE FROM {table}")
    afterload.rebuild(con)  # the KPIs now read the emptied table
    version = dataset.version(con)

    source = sql.SyncSource(f"erp_{dialect}", SOURCES[dialect])
    now = datetime.combine(as_of + timedelta(days=1), time(23, 59))
    result = sql.sync_tables(con, source, remote, tables=(table,), prefix=prefix, now=now)

    assert result.fetched == {table: len(rows)}
    assert result.report.rows_rejected == 0, result.report.problems()
    assert result.report.rows_loaded == len(rows)
    assert sorted(map(repr, _rows(con, table))) == sorted(map(repr, rows))
    assert dataset.version(con) != version
    got = kpis.summary(con, start, as_of)
    assert list(got["kpi"]) == list(expected["kpi"])
    # Equal up to the order DuckDB's parallel sums add floats in (1e-12 relative).
    for col in ("value", "previous"):
        np.testing.assert_allclose(got[col].astype(float), expected[col].astype(float), rtol=1e-12)

    again = sql.sync_tables(con, source, remote, tables=(table,), prefix=prefix, now=now)
    assert again.report.rows_loaded == 0  # same snapshot: nothing new
    con.close()


@pytest.mark.integration
def test_absent_source_tables_are_listed(linli, dialect_remote):
    """A source without the registry's tables reads nothing and says which are absent."""
    dialect, remote, prefix = dialect_remote
    result = sql.sync_tables(
        linli, sql.SyncSource("empty", SOURCES[dialect]), remote, prefix=prefix
    )
    assert result.fetched == {} and result.absent == tables.LOAD_ORDER
    assert not result.report.written


@pytest.mark.integration
def test_cli_syncs_into_a_file(world, tmp_path, dialect_remote, capsys):
    """`python -m connectors.sql --db … --url …` loads what the source has and lists the rest."""
    dialect, remote, prefix = dialect_remote
    rows = _rows(world, "skus")
    _fill_source(remote, dialect, prefix + "skus", "skus", rows)
    path = tmp_path / "new.duckdb"
    argv = ["--db", str(path), "--url", SOURCES[dialect], "--prefix", prefix, "--name", "nightly"]
    assert sql.main(argv) == 0
    out = capsys.readouterr().out
    absent = out.split("not in the source: ", 1)[1].splitlines()[0].split(", ")
    assert f"skus: {len(rows)} read" in out and "communities" in absent and "skus" not in absent
    with duckdb.connect(str(path)) as con:
        assert _rows(con, "skus") == rows
        assert con.execute("SELECT source FROM import_log").fetchall() == [("sql:nightly",)]
