"""`python -m connectors.load`: what export gives, import takes, with identical results."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from connectors import load, tables
from engine import basket, db, kpis, planning, rules, segmentation
from engine.planning import PlanSettings

# Floats agree to 12 significant digits: the last bit of a sum depends on the order DuckDB's
# threads add the rows, and two runs on one database differ by as much. Everything else
# (counts, ids, ranks, labels) is compared exactly.
SAME = {"check_exact": False, "rtol": 1e-12, "atol": 1e-9}
RULE = "范围 全部 过去 14 天 筛选 销量 > 0 排序 成交额 降序 前 5"


@pytest.fixture(scope="module")
def reloaded(world, tmp_path_factory):
    """The small world exported by the CLI and loaded by the CLI into a `--new` database."""
    tmp = tmp_path_factory.mktemp("ownload")
    out = tmp / "export"
    load.export(world.cursor(), out)
    path = tmp / "new.duckdb"
    assert load.main(["--db", str(path), "--new", str(out)]) == 0
    con = db.connect(path)
    yield con
    con.close()


def test_export_writes_every_input_table(world, reloaded, tmp_path):
    """Every input table becomes <table>.csv with the schema's columns as headers."""
    counts = load.export(world.cursor(), tmp_path)
    assert list(counts) == list(tables.LOAD_ORDER)
    for table in tables.LOAD_ORDER:
        head = (tmp_path / f"{table}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert head.split(",") == list(tables.spec(table).names)
    assert counts["orders"] == world.execute("SELECT count(*) FROM orders").fetchall()[0][0]


def test_every_input_table_comes_back_row_for_row(world, reloaded):
    """Each input table of the new database holds exactly the source's rows."""
    for table in tables.LOAD_ORDER:
        cols = ", ".join(tables.spec(table).names)
        key = ", ".join(tables.spec(table).key)
        a = world.cursor().execute(f"SELECT {cols} FROM {table} ORDER BY {key}").df()
        b = reloaded.execute(f"SELECT {cols} FROM {table} ORDER BY {key}").df()
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=table)


def _periods(hi: date) -> list[tuple[date, date]]:
    return [
        (hi, hi),
        (hi - timedelta(days=6), hi),
        (hi.replace(day=1), hi),
        (hi - timedelta(days=59), hi - timedelta(days=30)),
    ]


def test_identical_kpis_segments_rules_baskets_and_plan(world, reloaded):
    """KPI summaries of four periods, segments, a rule, basket rules and tomorrow's plan items
    are the same numbers on the reloaded database as on the generated one (floats to 12
    significant digits, see SAME)."""
    src, dst = world.cursor(), reloaded.cursor()
    lo, hi = kpis.data_range(src)
    assert kpis.data_range(dst) == (lo, hi)
    for start, end in _periods(hi):
        a, b = kpis.summary(src, start, end), kpis.summary(dst, start, end)
        assert a["value"].notna().sum() >= 8, "the KPIs must be computable on this world"
        pd.testing.assert_frame_equal(a, b, **SAME)

    sa, sb = segmentation.run(src, with_churn=False), segmentation.run(dst, with_churn=False)
    pd.testing.assert_frame_equal(sa.users, sb.users, **SAME)
    pd.testing.assert_frame_equal(sa.tags, sb.tags, **SAME)

    ra, rb = rules.evaluate(src, RULE), rules.evaluate(dst, RULE)
    assert len(ra) > 0
    pd.testing.assert_frame_equal(ra, rb, **SAME)
    assert ra[["community_id", "rank", "sku_id"]].equals(rb[["community_id", "rank", "sku_id"]])

    ta = basket.slices.transactions(src)
    pd.testing.assert_frame_equal(ta, basket.slices.transactions(dst), check_exact=True)
    ba = basket.rules(ta, 0.002, 0.1, min_len=2)
    bb = basket.rules(basket.slices.transactions(dst), 0.002, 0.1, min_len=2)
    assert len(ba) > 0
    pd.testing.assert_frame_equal(ba, bb, **SAME)

    settings = PlanSettings(route=False)
    pa_ = planning.build(src, hi + timedelta(days=1), settings)
    pb_ = planning.build(dst, hi + timedelta(days=1), settings)
    assert len(pa_.items) > 0
    pd.testing.assert_frame_equal(pa_.items, pb_.items, **SAME)
    ids = ["community_id", "rank", "sku_id", "source", "threshold"]
    assert pa_.items[ids].equals(pb_.items[ids])
    pd.testing.assert_frame_equal(pa_.purchase, pb_.purchase, **SAME)
