"""Integration tests for connectors/sql.py against the local PostgreSQL and MariaDB servers."""

import json
import uuid
from datetime import date, datetime

import pytest

from connectors import sql
from engine import audit, db, kpis

SOURCES = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}
NOW = datetime(2025, 6, 1)


def _remote(dialect):
    src = sql.SyncSource("probe", SOURCES[dialect])
    try:
        return sql.connect_remote(src, timeout_s=3)
    except Exception as exc:
        reason = f"{dialect} server at {SOURCES[dialect]} unreachable: {exc}"
        print(reason)
        pytest.skip(reason)


@pytest.fixture(params=["postgresql", "mysql"])
def remote(request):
    """An open connection and uniquely named source tables, dropped afterwards."""
    dialect = request.param
    con = _remote(dialect)
    tag = uuid.uuid4().hex[:8]
    orders, items = f"linli_t_{tag}_orders", f"linli_t_{tag}_items"
    money = "NUMERIC(10,2)"
    cur = con.cursor()
    cur.execute(
        f"CREATE TABLE {orders} (order_id BIGINT PRIMARY KEY, user_id INT, "
        f"created_at TIMESTAMP, status VARCHAR(20), coupon {money}, updated_at TIMESTAMP)"
    )
    cur.execute(f"CREATE TABLE {items} (order_id BIGINT, sku_id INT, qty INT, unit_price {money})")
    con.commit()
    try:
        yield dialect, con, orders, items
    finally:
        con.rollback()
        cur = con.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {items}")
        cur.execute(f"DROP TABLE IF EXISTS {orders}")
        con.commit()
        con.close()


def _insert(con, orders, items, rows, lines):
    cur = con.cursor()
    for r in rows:
        cur.execute(f"INSERT INTO {orders} VALUES (%s, %s, %s, %s, %s, %s)", r)
    for r in lines:
        cur.execute(f"INSERT INTO {items} VALUES (%s, %s, %s, %s)", r)
    con.commit()


def _first_orders(con, orders, items):
    """Orders 1001 (2 lines) and 1002 (1 line) of 2025-05-01 08:00 and 09:00."""
    t = lambda h: datetime(2025, 5, 1, h)  # noqa: E731
    _insert(
        con,
        orders,
        items,
        [(1001, 1, t(8), "paid", 0, t(8)), (1002, 3, t(9), "paid", 2.5, t(9))],
        [(1001, 10, 1, 35.9), (1001, 11, 2, 8.9), (1002, 12, 3, 15.9)],
    )


@pytest.mark.integration
def test_incremental_sync(linli, remote):
    """Two syncs load each order once, quarantine a bad line and advance the watermark."""
    dialect, con, orders, items = remote
    source = sql.SyncSource(f"erp_{dialect}", SOURCES[dialect], orders, items, "updated_at")
    t = lambda h: datetime(2025, 5, 1, h)  # noqa: E731
    _first_orders(con, orders, items)
    first = sql.sync(linli, source, con, now=NOW)
    assert first.report.written and first.report.rows_rejected == 0
    assert linli.execute("SELECT count(*) FROM orders").fetchone()[0] == 2
    assert linli.execute("SELECT count(*) FROM order_items").fetchone()[0] == 3
    assert sql.watermark(linli, source) == t(9)
    # unit_cost/list_price come from the SKU table; community from the user.
    assert linli.execute(
        "SELECT community_id, pickup_id FROM orders WHERE order_id = 1002"
    ).fetchone() == (2, 12)

    _insert(
        con,
        orders,
        items,
        [(1003, 2, t(10), "paid", 0, t(10)), (1004, 1, t(11), "paid", 0, t(11))],
        [(1003, 10, 1, 35.9), (1004, 11, -2, 8.9)],
    )
    second = sql.sync(linli, source, con, now=NOW)
    rep = {r.table: r for r in second.report.tables}
    assert rep["orders"].rows_valid == 2 and rep["orders"].rows_skipped == 0
    assert rep["order_items"].problems.get("negative:qty") == 1
    assert sql.watermark(linli, source) == t(11)
    assert linli.execute("SELECT count(*) FROM orders").fetchone()[0] == 4
    assert linli.execute("SELECT count(*) FROM order_items").fetchone()[0] == 4
    assert (
        linli.execute(
            "SELECT count(*) FROM import_quarantine WHERE reason = 'negative:qty'"
        ).fetchone()[0]
        == 1
    )

    # A late commit at the boundary timestamp is caught; the seen boundary order is not re-read.
    _insert(con, orders, items, [(1005, 3, t(11), "paid", 0, t(11))], [(1005, 12, 1, 15.9)])
    third = sql.sync(linli, source, con, now=NOW)
    assert third.orders_fetched == 1 and third.report.rows_loaded == 2
    assert linli.execute("SELECT count(*) FROM import_quarantine").fetchone()[0] == 1

    fourth = sql.sync(linli, source, con, now=NOW)
    assert fourth.orders_fetched == 0 and fourth.report.rows_loaded == 0
    assert linli.execute("SELECT count(*) FROM orders").fetchone()[0] == 5


@pytest.mark.integration
def test_kpis_are_current_right_after_a_sync(linli, remote):
    """A sync runs the after-load step: rollups, as_of, data version and audit follow it."""
    dialect, con, orders, items = remote
    source = sql.SyncSource(f"kpi_{dialect}", SOURCES[dialect], orders, items, "updated_at")
    day = date(2025, 5, 1)
    # GMV's rollup counts the lines of communities with a leader (团长), as every real one has.
    linli.execute(
        "INSERT INTO leaders VALUES (1, 1, '王姐', NULL, '2024-01-01', 0.08), "
        "(2, 2, '李哥', NULL, '2024-02-01', 0.08)"
    )
    t = lambda h: datetime(2025, 5, 1, h)  # noqa: E731
    _first_orders(con, orders, items)
    first = sql.sync(linli, source, con, now=NOW, username="ops")
    # GMV = Σ qty × unit price (coupons not deducted, docs/metrics.md).
    assert kpis.gmv(linli, day, day) == pytest.approx(35.9 + 2 * 8.9 + 3 * 15.9)
    assert kpis.paid_orders(linli, day, day) == 2
    assert kpis.active_buyers(linli, day, day) == 2
    assert db.get_meta(linli, "as_of") == "2025-05-01"
    assert db.get_meta(linli, "data_version") == first.report.import_id
    log = audit.entries(linli)
    assert log["action"].tolist() == ["import"] and log["username"].tolist() == ["ops"]
    assert json.loads(log["detail"][0]) == {
        "source": f"sql:kpi_{dialect}",
        "import_id": first.report.import_id,
        "loaded": 5,
        "rejected": 0,
    }

    _insert(con, orders, items, [(1003, 2, t(10), "paid", 0, t(10))], [(1003, 10, 1, 35.9)])
    second = sql.sync(linli, source, con, now=NOW)
    assert kpis.gmv(linli, day, day) == pytest.approx(35.9 + 2 * 8.9 + 3 * 15.9 + 35.9)
    assert kpis.paid_orders(linli, day, day) == 3
    assert kpis.active_buyers(linli, day, day) == 3
    assert db.get_meta(linli, "data_version") == second.report.import_id

    # Nothing new: nothing written, so no rebuild and no audit entry.
    third = sql.sync(linli, source, con, now=NOW)
    assert not third.report.written
    assert len(audit.entries(linli)) == 2


@pytest.mark.integration
def test_unknown_watermark_column(linli, remote):
    """A watermark column missing from the source table is a clear error."""
    dialect, con, orders, items = remote
    source = sql.SyncSource("bad", SOURCES[dialect], orders, items, "changed_on")
    with pytest.raises(ValueError, match="no column 'changed_on'"):
        sql.sync(linli, source, con, now=NOW)


def test_identifier_whitelist():
    """Table names that are not plain identifiers never reach a query."""
    with pytest.raises(ValueError, match="Invalid table"):
        sql._quote("postgresql", "orders; DROP TABLE x")


@pytest.mark.integration
def test_abort_keeps_watermark(linli, remote):
    """With on_error='abort' a bad line keeps the whole batch out and the watermark unmoved."""
    dialect, con, orders, items = remote
    source = sql.SyncSource(f"strict_{dialect}", SOURCES[dialect], orders, items, "updated_at")
    t = datetime(2025, 5, 2, 8)
    _insert(con, orders, items, [(2001, 1, t, "paid", 0, t)], [(2001, 99, 1, 5.0)])
    result = sql.sync(linli, source, con, now=NOW, on_error="abort")
    assert not result.report.written
    assert result.report.tables[1].problems == {"missing_reference:sku_id": 1}
    assert sql.watermark(linli, source) is None
    assert linli.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
