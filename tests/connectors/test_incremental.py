"""The nightly load: appending the next day refreshes that day's rollups, equal to a rebuild."""

from __future__ import annotations

import pandas as pd
import pytest

from connectors import export, load, tables
from engine import afterload, db, kpis
from engine.segmentation import features

# Tables whose rows belong to one day, and the column saying which.
DAY_OF = {
    "campaigns": "sale_date",
    "orders": "order_date",
    "inventory": "stock_date",
    "browse_events": "event_date",
    "chat_activity": "activity_date",
    "topics": "topic_date",
    "feedback": "feedback_date",
    "weather": "weather_date",
}
ROLLUPS = {**kpis.ROLLUPS, features.ROLLUP: features.ROLLUP_SQL}


def _rows(world, table: str, last_day: bool):
    """SQL for the world's rows of ``table`` before the last day, or of the last day only."""
    cols = ", ".join(tables.spec(table).names)
    op = "=" if last_day else "<"
    hi = "(SELECT max(order_date) FROM orders)"
    if table in DAY_OF:
        return f"SELECT {cols} FROM {table} WHERE {DAY_OF[table]} {op} {hi}"
    if table == "order_items":
        return (
            f"SELECT {cols} FROM order_items WHERE order_id IN "
            f"(SELECT order_id FROM orders WHERE order_date {op} {hi})"
        )
    return None if last_day else f"SELECT {cols} FROM {table}"


@pytest.fixture
def day_before(world, tmp_path):
    """A database holding the world up to the day before its last, rollups built; and the
    last day's rows as one CSV per table, as a nightly export would bring them."""
    src = world.cursor()
    con = db.connect(":memory:")
    for table in tables.LOAD_ORDER:
        data = src.sql(_rows(src, table, last_day=False)).to_arrow_table()
        con.register("_t", data)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _t")
        con.unregister("_t")
    afterload.rebuild(con)
    night = tmp_path / "night"
    night.mkdir()
    for table in tables.LOAD_ORDER:
        sql = _rows(src, table, last_day=True)
        if sql:
            (night / f"{table}.csv").write_bytes(export.to_csv_bytes(src.execute(sql).df()))
    yield con, night
    con.close()


def _same(con, name: str, sql: str) -> None:
    rel = con.sql(f"SELECT * FROM {name}")
    # Bit masks (HUGEINT) have no NumPy type: compare them as text.
    cols = ", ".join(
        f'"{c}"::VARCHAR AS "{c}"' if "HUGEINT" in str(t) else f'"{c}"'
        for c, t in zip(rel.columns, rel.types, strict=True)
    )
    key = ", ".join(f'"{c}"' for c in rel.columns)
    have = con.execute(f"SELECT {cols} FROM {name} ORDER BY {key}").df()
    want = con.execute(f"SELECT {cols} FROM ({sql}) ORDER BY {key}").df()
    # Sums agree to 12 digits: the last bit depends on the order threads add rows.
    pd.testing.assert_frame_equal(have, want, check_exact=False, rtol=1e-12, obj=name)


def test_appending_a_day_refreshes_only_that_day_and_equals_a_rebuild(
    world, day_before, monkeypatch
):
    """The nightly files load, the rollups are refreshed for the new day only (a full rebuild
    is never called), and every rollup equals one rebuilt from scratch."""
    con, night = day_before
    before = con.execute("SELECT count(*), max(day) FROM rollup_sales").fetchall()[0]

    def refuse(_con):
        raise AssertionError("a daily append must not rebuild every rollup")

    monkeypatch.setattr(kpis, "refresh_rollups", refuse)
    monkeypatch.setattr(features, "refresh_rollup", refuse)
    result = load.load(con, [night])
    assert not result.refused and result.rows_rejected == 0
    assert result.rows_loaded > 1000
    monkeypatch.undo()
    after = con.execute("SELECT count(*), max(day) FROM rollup_sales").fetchall()[0]
    assert after[0] > before[0] and after[1] > before[1]
    for name, sql in ROLLUPS.items():
        _same(con, name, sql)
    _lo, hi = kpis.data_range(con)
    full = kpis.summary(world.cursor(), hi.replace(day=1), hi)
    pd.testing.assert_frame_equal(
        kpis.summary(con, hi.replace(day=1), hi), full, check_exact=False, rtol=1e-12
    )


def test_a_leader_load_rebuilds_everything():
    """A leader's commission applies to the community's earlier sales: only a full rebuild is
    right, so a load with leaders is not incremental; daily facts and new parents are."""
    assert not afterload.incremental(["leaders", "orders"])
    assert not afterload.incremental([])
    assert afterload.incremental(["orders", "order_items", "users", "weather"])


def test_refresh_days_refuses_a_reversed_span(world):
    """A last day before the first is a clear error."""
    lo, hi = kpis.data_range(world.cursor())
    with pytest.raises(ValueError, match="before"):
        afterload.refresh_days(db.connect(":memory:"), hi, lo)
