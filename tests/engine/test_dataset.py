"""The data set as a whole (engine.dataset): version token, status and quarantine."""

from __future__ import annotations

import pytest

from engine import dataset, db


@pytest.fixture
def con():
    c = db.connect(":memory:")
    yield c
    c.close()


def test_version_changes_with_each_versioning_key(con):
    """The token joins as_of, data_version, scale and seed; other meta keys do not count."""
    assert dataset.version(con) == ""
    db.set_meta(con, "scale", "small")
    db.set_meta(con, "seed", "7")
    db.set_meta(con, "sync_watermark:erp", "x")
    assert dataset.version(con) == "small|7"
    db.set_meta(con, "as_of", "2026-11-24")
    db.set_meta(con, "data_version", "imp-1")
    assert dataset.version(con) == "2026-11-24|imp-1|small|7"
    db.set_meta(con, "data_version", "imp-2")
    assert dataset.version(con) == "2026-11-24|imp-2|small|7"


def test_status_counts_every_table_and_the_quarantine(con):
    """Status lists every base table with its rows, the latest imports and quarantined rows."""
    con.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙'), (2, '芙蓉区', '长沙')")
    con.execute(
        "INSERT INTO import_log VALUES ('a:orders', '2026-01-01 08:00', 'f.csv', 'orders', 'h', "
        "3, 2, 1), ('b:orders', '2026-01-02 08:00', 'g.csv', 'orders', 'h2', 1, 1, 0)"
    )
    con.execute(
        "INSERT INTO import_quarantine VALUES ('a:orders', 'orders', 3, 'negative:qty', '{}')"
    )
    s = dataset.status(con, recent=1)
    tables = dict(zip(s.tables["table"], s.tables["rows"], strict=True))
    assert tables["regions"] == 2 and tables["orders"] == 0 and "meta" in tables
    assert s.imports["source"].tolist() == ["g.csv"]
    assert s.quarantined == 1
    assert s.schema_version == db.SCHEMA_VERSION
    assert (s.scale, s.seed, s.as_of) == ("—", "—", "—")
    q = dataset.quarantine(con)
    assert q[["target_table", "row_number", "reason"]].values.tolist() == [
        ["orders", 3, "negative:qty"]
    ]


def test_generated_world_status(world):
    """The small world reports its scale, seed and as-of date, and no quarantine."""
    s = dataset.status(world.cursor())
    assert (s.scale, s.seed, s.as_of) == ("small", "7", db.get_meta(world.cursor(), "as_of"))
    assert s.quarantined == 0
    assert dict(zip(s.tables["table"], s.tables["rows"], strict=True))["orders"] > 1000


@pytest.mark.parametrize(("key", "value"), [("", "x"), ("k", 3)])
def test_set_meta_refuses_bad_input(con, key, value):
    """An empty key or a value that is not text is a clear error."""
    with pytest.raises(ValueError):
        db.set_meta(con, key, value)
