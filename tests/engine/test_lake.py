"""The Parquet lake: export, DuckDB over the lake, the daily append, the DuckDB build, errors."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from connectors import load as loadmod
from connectors import tables as ctables
from engine import clock, kpis, lake
from engine import db as dbmod
from engine.forecasting import demand, listings
from engine.lake import __main__ as cli
from engine.rules import backtest, library
from engine.rules import compile as compile_mod
from engine.segmentation import features


@pytest.fixture(scope="module")
def world_file(private_world_file) -> Path:
    """This module's own copy of the small world (tests/conftest.py says why)."""
    return private_world_file


@pytest.fixture(scope="module")
def exported(world_file, tmp_path_factory) -> Path:
    """The small world exported to a lake."""
    root = tmp_path_factory.mktemp("lake") / "lake"
    con = duckdb.connect(str(world_file), read_only=True)
    lake.export(con, root)
    con.close()
    return root


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory) -> Path:
    """A serving database built on DuckDB from the small world's lake."""
    path = tmp_path_factory.mktemp("serve") / "serving.duckdb"
    lake.build(exported, path, "duckdb")
    return path


def periods(con) -> list[tuple[date, date]]:
    """Several KPI periods over the world: the last week, month, quarter, and all."""
    lo, hi = kpis.data_range(con)
    return [
        (hi - timedelta(days=6), hi),
        (hi - timedelta(days=29), hi),
        (hi.replace(day=1), hi),
        (lo, hi),
        (lo + timedelta(days=10), lo + timedelta(days=40)),
    ]


def test_lake_tables_are_the_import_tables_and_telemetry():
    """The lake holds every importable table (connectors' list) plus the cold-chain readings."""
    assert set(lake.TABLES) == set(ctables.LOAD_ORDER) | {"telemetry"}


def test_export_writes_the_partition_layout(exported, world_file):
    """orders/order_items by order_date, telemetry by day and warehouse, row counts kept."""
    con = duckdb.connect(str(world_file), read_only=True)
    days = {
        d.isoformat() for (d,) in con.execute("SELECT DISTINCT order_date FROM orders").fetchall()
    }
    for table in ("orders", "order_items"):
        parts = {p.name.split("=", 1)[1] for p in (exported / table).iterdir()}
        assert parts == days, table
    tele = con.execute(
        "SELECT DISTINCT ts::DATE, d.warehouse_id FROM telemetry JOIN devices d USING (device_id)"
    ).fetchall()
    found = {(p.parent.name, p.name) for p in (exported / "telemetry").glob("day=*/warehouse_id=*")}
    assert found == {(f"day={d.isoformat()}", f"warehouse_id={w}") for d, w in tele}
    mem = duckdb.connect()
    lake.attach(mem, exported)
    for table in lake.TABLES:
        want = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert mem.execute(f"SELECT count(*) FROM {table}").fetchone() == want, table
    con.close()


def test_views_give_each_table_its_database_shape(exported, world_file):
    """Every lake view has the table's columns and types, and the same rows (order aside)."""
    con = duckdb.connect(str(world_file), read_only=True)
    mem = duckdb.connect()
    lake.attach(mem, exported)
    for table in ("orders", "order_items", "telemetry", "skus", "users"):
        want = {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        got = {r[0]: r[1] for r in mem.execute(f"DESCRIBE {table}").fetchall()}
        assert got == want, table
        cols = ", ".join(want)
        a = con.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").df()
        b = mem.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").df()
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    con.close()


def test_features_over_the_lake_equal_the_database(exported, world_file):
    """Per-user features read straight from the lake views (no rollup) equal the database's."""
    con = duckdb.connect(str(world_file), read_only=True)
    as_of = kpis.data_range(con)[1]
    want = features.user_features(con, as_of=as_of)
    mem = duckdb.connect()
    lake.attach(mem, exported)
    assert features.source(mem).startswith("(")  # inline aggregation over the lake
    got = features.user_features(mem, as_of=as_of)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
    con.close()


def test_kpis_on_the_serving_database_equal_the_original(served, world_file):
    """A serving database (views over the lake + rollups built on DuckDB) gives the same KPIs."""
    con = duckdb.connect(str(world_file), read_only=True)
    srv = dbmod.connect(served, read_only=True)
    assert srv.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'orders'"
    ).fetchone() == ("VIEW",)
    for start, end in periods(con):
        want = kpis.summary(con, start, end)
        got = kpis.summary(srv, start, end)
        pd.testing.assert_frame_equal(got, want, rtol=1e-12)
    month = periods(con)[1]
    pd.testing.assert_frame_equal(
        kpis.by_region(srv, *month), kpis.by_region(con, *month), rtol=1e-12
    )
    con.close()
    srv.close()


def test_forecaster_and_rules_read_the_served_frames(served, world_file, monkeypatch):
    """The serving database holds the forecaster's and the rules' daily frames; the demand
    history and a rules backtest read them there and give what the original file gives."""
    con = duckdb.connect(str(world_file), read_only=True)
    srv = dbmod.connect(served, read_only=True)
    kinds = dict(
        srv.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_name IN ('demand_daily', 'sales_daily')"
        ).fetchall()
    )
    assert kinds == {"demand_daily": "BASE TABLE", "sales_daily": "BASE TABLE"}
    end = clock.as_of(con)
    start = end - timedelta(days=7 * 4 + 7)
    rules = [text for _, text in library.SEEDS[2:]]
    want = {lv: demand.history(con, level=lv).frame for lv in ("warehouse", "community")}
    want_bt = backtest.backtest(con, rules, start, weeks=4)
    # From here on the order-line queries fail: only the served tables can answer.
    broken = "SELECT error('order lines read instead of the served frame')"
    monkeypatch.setattr(listings, "DEMAND_DAILY_SQL", broken)
    monkeypatch.setattr(compile_mod, "_SALES_DAILY_SELECT", broken)
    for lv, frame in want.items():
        pd.testing.assert_frame_equal(demand.history(srv, level=lv).frame, frame)
    with pytest.raises(duckdb.Error):  # the original file has no served frame
        demand.history(con)
    got_bt = backtest.backtest(srv, rules, start, weeks=4)
    pd.testing.assert_frame_equal(got_bt.summary, want_bt.summary, rtol=1e-12)
    pd.testing.assert_frame_equal(got_bt.picks, want_bt.picks)
    con.close()
    srv.close()


def _next_day_files(db: Path, folder: Path) -> date:
    """Write the last day's orders and lines again as the next day's (new ids) to ``folder``."""
    con = duckdb.connect(str(db), read_only=True)
    last = con.execute("SELECT max(order_date) FROM orders").fetchone()[0]
    top = con.execute("SELECT max(order_id) FROM orders").fetchone()[0]
    folder.mkdir()
    shift = "INTERVAL 1 DAY"
    con.execute(
        f"""COPY (SELECT * REPLACE (order_id + {top} AS order_id, order_date + {shift} AS order_date,
                  created_at + {shift} AS created_at, promised_by + {shift} AS promised_by,
                  delivered_at + {shift} AS delivered_at, picked_up_at + {shift} AS picked_up_at)
              FROM orders WHERE order_date = ?) TO '{folder / "orders.parquet"}' (FORMAT parquet)""",
        [last],
    )
    con.execute(
        f"""COPY (SELECT i.* REPLACE (i.order_id + {top} AS order_id) FROM order_items i
              JOIN orders o USING (order_id) WHERE o.order_date = ?)
            TO '{folder / "order_items.parquet"}' (FORMAT parquet)""",
        [last],
    )
    con.close()
    return last + timedelta(days=1)


def test_daily_load_appends_to_the_lake_without_duplicates(world_file, tmp_path):
    """`connectors.load --lake` adds the new day's partitions; appending again duplicates nothing."""
    db = tmp_path / "linli.duckdb"
    shutil.copy(world_file, db)
    root = tmp_path / "lake"
    con = duckdb.connect(str(db), read_only=True)
    lake.export(con, root)
    con.close()
    new_day = _next_day_files(db, tmp_path / "load")
    assert loadmod.main(["--db", str(db), "--lake", str(root), str(tmp_path / "load")]) == 0
    assert (root / "orders" / f"order_date={new_day.isoformat()}").is_dir()
    assert (root / "order_items" / f"order_date={new_day.isoformat()}").is_dir()

    def same(con):
        mem = duckdb.connect()
        lake.attach(mem, root)
        for table in ("orders", "order_items"):
            want = con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {table}").fetchall()
            cols = ", ".join(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall())
            got = mem.execute(
                f"SELECT count(*), sum(hash(COLUMNS(*))) FROM (SELECT {cols} FROM {table})"
            ).fetchall()
            assert got == want, table

    con = dbmod.connect(db, verify_blocks=False)
    assert (
        con.execute("SELECT count(*) FROM orders WHERE order_date = ?", [new_day]).fetchone()[0] > 0
    )
    same(con)
    lake.append(con, root, [new_day, new_day - timedelta(days=1)], ["order_items"])
    same(con)  # a re-run rewrites the same partitions: no duplicated rows
    con.close()


def test_load_with_a_missing_lake_is_refused(world_file, tmp_path, capsys):
    """`--lake` naming no folder stops before loading, with exit code 2 and the reason."""
    rc = loadmod.main(["--db", str(world_file), "--lake", str(tmp_path / "nope"), str(tmp_path)])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--lake", "{tmp}/missing", "--db", "{tmp}/s.duckdb"], "does not exist"),
        (
            ["build", "--lake", "{lake}", "--engine", "hadoop", "--db", "{tmp}/s.duckdb"],
            "unknown engine 'hadoop'",
        ),
        (["build", "--lake", "{partial}", "--db", "{tmp}/s.duckdb"], "has no leaders"),
        (["export", "--db", "{tmp}/missing.duckdb", "--lake", "{tmp}/l"], "does not exist"),
        (["export", "--db", "{world}", "--lake", "{file}"], "is a file"),
    ],
)
def test_cli_refuses_bad_input(args, message, exported, world_file, tmp_path, capsys):
    """A missing lake, a lake without a table, an unknown engine, a missing db: exit 2, why."""
    partial = tmp_path / "partial"
    shutil.copytree(exported, partial)
    shutil.rmtree(partial / "leaders")
    (tmp_path / "afile").write_text("x")
    fill = {"tmp": tmp_path, "lake": exported, "partial": partial, "world": world_file}
    fill["file"] = tmp_path / "afile"
    assert cli.main([a.format(**fill) for a in args]) == 2
    assert message in capsys.readouterr().err


def test_cli_export_and_duckdb_build(world_file, tmp_path, capsys):
    """The two commands run end to end and name every serving table they built."""
    root, srv = tmp_path / "lake", tmp_path / "s.duckdb"
    assert cli.main(["export", "--db", str(world_file), "--lake", str(root)]) == 0
    assert cli.main(["build", "--lake", str(root), "--engine", "duckdb", "--db", str(srv)]) == 0
    out = capsys.readouterr().out
    for name in lake.formulas.names():
        assert f"{name}: " in out
