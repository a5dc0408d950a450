"""The after-load step (engine.afterload): rollups, as_of, data version and audit follow a load."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from engine import afterload, audit, clock, dataset, db, kpis
from tests.connectors.conftest import seed

DAY = date(2026, 3, 2)


@pytest.fixture
def con():
    """A fresh database with two communities, their leaders and two paid orders of DAY."""
    c = db.connect(":memory:")
    seed(c)
    c.execute(
        "INSERT INTO leaders VALUES (1, 1, '王姐', NULL, '2024-01-01', 0.1), "
        "(2, 2, '李哥', NULL, '2024-02-01', 0.1)"
    )
    c.execute(
        "INSERT INTO orders (order_id, user_id, community_id, pickup_id, order_date, created_at, "
        "promised_by, status) VALUES "
        "(1, 1, 1, 11, ?, ?, ?, 'paid'), (2, 3, 2, 12, ?, ?, ?, 'paid')",
        [DAY, datetime(2026, 3, 2, 8), datetime(2026, 3, 3, 17)] * 2,
    )
    c.execute(
        "INSERT INTO order_items (order_id, sku_id, qty, unit_price, list_price, unit_cost) "
        "VALUES (1, 10, 2, 35.0, 39.9, 22.0), (2, 12, 1, 18.0, 19.9, 11.0)"
    )
    yield c
    c.close()


def test_run_rebuilds_moves_as_of_bumps_version_and_audits(con):
    """After a load that wrote rows the KPIs see them, as_of is the last order day, all logged."""
    before = dataset.version(con)
    afterload.run(
        con, load_id="imp-1", source="订单.csv", loaded=3, rejected=1, username="ops",
        now=datetime(2026, 3, 2, 9),
    )  # fmt: skip
    assert kpis.gmv(con, DAY, DAY) == pytest.approx(2 * 35.0 + 18.0)
    assert kpis.paid_orders(con, DAY, DAY) == 2
    assert kpis.leader_commission(con, DAY, DAY) == pytest.approx(0.1 * 88.0)
    assert clock.as_of(con) == DAY
    assert db.get_meta(con, "data_version") == "imp-1"
    assert dataset.version(con) != before
    log = audit.entries(con)
    assert log[["username", "action"]].values.tolist() == [["ops", "import"]]
    assert json.loads(log["detail"][0]) == {
        "source": "订单.csv", "import_id": "imp-1", "loaded": 3, "rejected": 1,
    }  # fmt: skip


def test_run_without_loaded_rows_only_audits(con):
    """A load that only quarantined rows leaves rollups, as_of and the version alone."""
    afterload.run(con, load_id="imp-2", source="bad.csv", loaded=0, rejected=4)
    assert db.get_meta(con, "as_of") is None and db.get_meta(con, "data_version") is None
    assert audit.entries(con)["action"].tolist() == ["import"]


def test_rebuild_of_an_empty_database_keeps_as_of_unset():
    """Without orders there is no last order day: nothing to move, None returned."""
    c = db.connect(":memory:")
    assert afterload.rebuild(c) is None
    assert db.get_meta(c, "as_of") is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"load_id": "", "source": "x", "loaded": 1}, "id"),
        ({"load_id": "a", "source": "x", "loaded": -1}, "negative"),
        ({"load_id": "a", "source": "x", "loaded": 1, "rejected": -2}, "negative"),
    ],
)
def test_bad_arguments_are_refused(con, kwargs, match):
    """A load without an id or with negative counts is a clear error, and writes nothing."""
    with pytest.raises(ValueError, match=match):
        afterload.run(con, **kwargs)
    assert audit.entries(con).empty


def test_generated_world_ran_the_step(world):
    """The generator ends with the after-load step: as_of is the last order day, rollups full."""
    cur = world.cursor()
    first, last = clock.order_span(cur)
    assert clock.as_of(cur) == last
    assert kpis.data_range(cur) == (first, last)
