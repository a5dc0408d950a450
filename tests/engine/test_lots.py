"""Near-expiry stock from loaded lots (engine.lots): found from the data, scoped by warehouse."""

from __future__ import annotations

from datetime import date

import pytest

from engine import db, lots
from engine.auth import Scope
from tests.connectors.conftest import seed

DAY = date(2026, 3, 1)


@pytest.fixture
def con():
    """Two warehouses in two regions; lots of two snapshots, some near expiry, one expired."""
    c = db.connect(":memory:")
    seed(c)
    c.execute("INSERT INTO regions VALUES (2, '芙蓉区', '长沙')")
    c.execute("INSERT INTO warehouses VALUES (2, '芙蓉前置仓', 2, 28.19, 113.03)")
    c.execute(
        "INSERT INTO communities VALUES "
        "(3, '芙蓉苑', 2, 2, 'mixed', 500, 2010, 15000, 28.19, 113.03, '2024-01-01')"
    )
    c.execute(
        "INSERT INTO inventory_lots VALUES "
        "('2026-02-28', 1, 12, 'OLD', '2026-02-20', '2026-03-02', 99), "  # older snapshot
        "('2026-03-01', 1, 12, 'A1', '2026-02-27', '2026-03-03', 40), "
        "('2026-03-01', 1, 12, 'A2', '2026-02-28', '2026-03-09', 30), "
        "('2026-03-01', 1, 10, 'B1', '2026-01-01', '2026-02-27', 5), "  # already expired
        "('2026-03-01', 1, 11, 'C1', '2026-02-01', '2026-03-02', 0), "  # none left
        "('2026-03-01', 2, 12, 'D1', '2026-02-27', '2026-03-04', 12)"
    )
    yield c
    c.close()


def test_near_expiry_reads_the_latest_snapshot(con):
    """Lots expiring within the window on the latest snapshot; expired and empty lots left out."""
    out = lots.near_expiry(con, DAY, within_days=3)
    assert out[["warehouse_id", "lot_id", "qty", "days_left"]].values.tolist() == [
        [1, "A1", 40, 2],
        [2, "D1", 12, 3],
    ]
    assert out["name"].tolist() == ["低糖苹果", "低糖苹果"]
    assert lots.for_sku(out, 12) == (52, 2)
    assert lots.for_sku(out, 10) is None
    assert len(lots.near_expiry(con, DAY, within_days=8)) == 3


def test_scope_keeps_its_warehouses(con):
    """A regional manager of region 2 sees only warehouse 2's lots."""
    scope = Scope(regions=(2,))
    assert lots.near_expiry(con, DAY, 7, scope)["warehouse_id"].tolist() == [2]


def test_no_lots_loaded_gives_an_empty_frame():
    """Without lots the answer is empty, not an error."""
    c = db.connect(":memory:")
    assert lots.near_expiry(c, DAY).empty


def test_negative_window_is_refused(con):
    """A negative number of days is a clear error."""
    with pytest.raises(ValueError, match="at least 0"):
        lots.near_expiry(con, DAY, -1)
