"""Live alarm evaluation into the alerts table, and stock at risk, on a tiny DuckDB world."""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine import clock, db
from engine.coldchain import live, store

T0 = pd.Timestamp("2026-07-01 08:00:00")


@pytest.fixture
def con():
    """A fresh schema with three devices, a few SKUs, stock and orders."""
    c = db.connect(":memory:")
    c.execute(
        """
        INSERT INTO devices VALUES
          ('WH1-ROOM-C', 'room', 'chilled', 1, NULL, NULL, 28.2, 112.9, 60),
          ('CAB-1', 'cabinet', 'chilled', 1, NULL, 10, 28.21, 112.91, 60),
          ('TRK-1', 'truck', 'chilled', 1, 5, NULL, NULL, NULL, 60);
        INSERT INTO skus VALUES
          (1, '牛奶', '乳品', 'chilled', 7, 10.0, 6.0, '盒', 1, 1, 1, 1, [], '2026-01-01'),
          (2, '冻饺子', '冻品', 'frozen', 180, 20.0, 12.0, '袋', 1, 1, 1, 1, [], '2026-01-01'),
          (3, '草莓', '水果', 'chilled', 3, 30.0, 18.0, '盒', 1, 1, 1, 1, [], '2026-01-01');
        INSERT INTO inventory VALUES
          ('2026-06-30', 1, 1, 50, 40, 0, 100, 0),
          ('2026-07-01', 1, 1, 50, 40, 0, 100, 0),
          ('2026-07-01', 1, 2, 0, 5, 0, 80, 0),
          ('2026-07-01', 1, 3, 10, 10, 0, 20, 0);
        INSERT INTO orders (order_id, user_id, community_id, pickup_id, order_date, created_at,
          promised_by, delivered_at, picked_up_at, status, ref_user_id, coupon) VALUES
          (1, 1, 1, 10, '2026-06-30', '2026-06-30 10:00', '2026-07-01 12:00', NULL, NULL,
           'paid', NULL, 0),
          (2, 2, 1, 10, '2026-06-30', '2026-06-30 11:00', '2026-07-01 12:00', NULL, NULL,
           'cancelled', NULL, 0);
        INSERT INTO order_items VALUES
          (1, 3, NULL, 2, 25.0, 30.0, 18.0, 0, NULL),
          (1, 2, NULL, 1, 18.0, 20.0, 12.0, 0, NULL),
          (2, 1, NULL, 5, 9.0, 10.0, 6.0, 0, NULL);
        """
    )
    return c


def insert(con, device, temps, start, received_at, step_s=60):
    """Append readings as one ingest batch stamped received_at."""
    n = len(temps)
    df = pd.DataFrame(
        {
            "device_id": device,
            "ts": start + pd.to_timedelta(np.arange(n) * step_s, unit="s"),
            "temp_c": np.asarray(temps, dtype=float),
            "received_at": pd.Timestamp(received_at),
        }
    )
    con.register("_b", df)
    con.execute(
        "INSERT INTO telemetry (device_id, ts, temp_c, received_at) "
        "SELECT device_id, ts, temp_c, received_at FROM _b"
    )
    con.unregister("_b")


def test_engine_raises_updates_clears_and_keeps_acknowledgement(con):
    """An excursion becomes one alerts row; recovery clears it; the acknowledgement survives."""
    eng = live.AlarmEngine(con)
    now = T0 + pd.Timedelta(minutes=30)
    insert(con, "WH1-ROOM-C", [2.0] * 5 + [6.0] * 25, T0, "2026-07-01 08:30:00")
    changes = eng.evaluate(now=now)
    assert list(changes["kind"]) == ["high_temp"]
    rows = con.execute("SELECT alert_id, started_at, raised_at, cleared_at FROM alerts").fetchall()
    assert len(rows) == 1 and rows[0][3] is None
    assert rows[0][1] == T0 + pd.Timedelta(minutes=5)
    assert rows[0][2] == T0 + pd.Timedelta(minutes=25)
    assert store.acknowledge(con, rows[0][0], "duty")
    assert not store.acknowledge(con, rows[0][0], "other")
    insert(con, "WH1-ROOM-C", [2.0] * 10, T0 + pd.Timedelta(minutes=30), "2026-07-01 08:40:00")
    eng.evaluate(now=T0 + pd.Timedelta(minutes=40))
    row = con.execute("SELECT cleared_at, acknowledged_by, degree_minutes FROM alerts").fetchone()
    assert row[0] == T0 + pd.Timedelta(minutes=30)
    assert row[1] == "duty"
    assert row[2] == pytest.approx(2.0 * 25)


def test_engine_restart_continues_open_alarm_without_duplicate(con):
    """A new engine adopts the open alarm from the table and clears that same row."""
    first = live.AlarmEngine(con)
    insert(con, "WH1-ROOM-C", [6.0] * 25, T0, "2026-07-01 08:25:00")
    first.evaluate(now=T0 + pd.Timedelta(minutes=25))
    eng = live.AlarmEngine(con)
    insert(
        con,
        "WH1-ROOM-C",
        [6.0] * 5 + [1.0] * 10,
        T0 + pd.Timedelta(minutes=25),
        "2026-07-01 08:40:00",
    )
    eng.evaluate(now=T0 + pd.Timedelta(minutes=40))
    rows = con.execute("SELECT kind, cleared_at FROM alerts").fetchall()
    assert rows == [("high_temp", T0 + pd.Timedelta(minutes=30))]


def test_engine_offline_raise_and_clear(con):
    """A device silent for 3 intervals is offline until its next message."""
    eng = live.AlarmEngine(con)
    insert(con, "CAB-1", [2.0] * 3, T0, "2026-07-01 08:03:00")
    eng.evaluate(now=T0 + pd.Timedelta(minutes=3))
    assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    eng.evaluate(now=T0 + pd.Timedelta(minutes=10))
    assert con.execute("SELECT kind FROM alerts WHERE cleared_at IS NULL").fetchall() == [
        ("offline",)
    ]
    insert(con, "CAB-1", [2.0], T0 + pd.Timedelta(minutes=11), "2026-07-01 08:11:00")
    eng.evaluate(now=T0 + pd.Timedelta(minutes=11))
    assert con.execute("SELECT count(*) FROM alerts WHERE cleared_at IS NULL").fetchone()[0] == 0


def test_stock_at_risk_rooms_cabinets_and_trucks(con):
    """Rooms hold chilled stock (FIFO age), cabinets the day's paid deliveries, trucks fall back."""
    stock = store.stock_at_risk(con, ["WH1-ROOM-C", "CAB-1", "TRK-1"], date(2026, 7, 1))
    room = stock[stock["device_id"] == "WH1-ROOM-C"].set_index("sku_id")
    assert set(room.index) == {1, 3}  # frozen dumplings are not in the chilled room
    assert room.loc[1, "value"] == pytest.approx(100 * 6.0)
    assert room.loc[1, "remaining_days"] == pytest.approx(7 - 100 / 50)
    assert room.loc[3, "remaining_days"] == pytest.approx(1.0)  # 20 on hand at 10/day, 3-day life
    cab = stock[stock["device_id"] == "CAB-1"]
    assert list(cab["sku_id"]) == [3]  # chilled only, the cancelled order excluded
    assert cab["value"].iloc[0] == pytest.approx(50.0)
    assert cab["remaining_days"].iloc[0] == pytest.approx(2.0)
    truck = stock[stock["device_id"] == "TRK-1"]
    assert set(truck["sku_id"]) == {1, 3}  # no route plan: the warehouse's chilled stock
    summary = store.risk_summary(stock).set_index("device_id")
    assert summary.loc["CAB-1", "top_skus"] == "草莓"
    assert summary.loc["WH1-ROOM-C", "value"] == pytest.approx(600 + 20 * 18.0)


def test_stock_at_risk_truck_uses_route_plan(con):
    """With a route plan that day, a truck carries the orders of its stops."""
    con.execute(
        "INSERT INTO route_plans VALUES ('p1', '2026-07-01', 1, 'pyvrp', '2026-07-01 06:00', 10, NULL);"
        "INSERT INTO route_stops VALUES ('p1', 5, 0, NULL, 420, 0), ('p1', 5, 1, 10, 450, 3)"
    )
    stock = store.stock_at_risk(con, ["TRK-1"], date(2026, 7, 1))
    assert list(stock["sku_id"]) == [3] and stock["units"].iloc[0] == 2


# ---------------------------------------------------------------------- generated history
def _overlaps(alerts, device, start, end):
    """Alerts of ``device`` whose span [started_at, cleared_at or updated_at] meets a window."""
    a = alerts[alerts["device_id"] == device]
    stop = a["cleared_at"].fillna(a["updated_at"])
    return a[(a["started_at"] <= end) & (stop >= start)]


def test_generated_history_carries_the_alarms_its_faults_imply(world):
    """Compressor failures raise high_temp, doors left open door_open; defrosts raise none."""
    cur = world.cursor()
    alerts = cur.execute("SELECT * FROM alerts").df()
    faults = cur.execute("SELECT * FROM truth_device_faults").df()
    assert len(alerts) > 0
    failures = faults[faults["fault"] == "compressor_failure"]
    doors = faults[faults["fault"] == "door_left_open"]
    assert len(failures) > 0 and len(doors) > 0
    for f in failures.itertuples():
        hot = _overlaps(alerts, f.device_id, f.start_ts, f.end_ts)
        hot = hot[hot["kind"] == "high_temp"]
        assert len(hot) == 1, f
        a = hot.iloc[0]
        # It starts inside the fault, is raised only after the 20-minute hold, and clears
        # (with hysteresis) after the repair.
        assert f.start_ts <= a["started_at"] <= f.end_ts
        assert a["raised_at"] - a["started_at"] >= pd.Timedelta(minutes=20)
        assert pd.notna(a["cleared_at"]) and a["cleared_at"] > f.end_ts
    for f in doors.itertuples():
        opened = _overlaps(alerts, f.device_id, f.start_ts, f.end_ts)
        assert "door_open" in set(opened["kind"]), f
    # Every alarm is explained by a planted fault of its device (recovery may take a while
    # after the fault ends); the defrost cycles alone raise nothing.
    planted = faults[faults["fault"] != "defrost"]
    for a in alerts.itertuples():
        mine = planted[planted["device_id"] == a.device_id]
        stop = a.cleared_at if pd.notna(a.cleared_at) else a.updated_at
        near = mine[
            (mine["start_ts"] - pd.Timedelta(minutes=10) <= stop)
            & (mine["end_ts"] + pd.Timedelta(hours=2) >= a.started_at)
        ]
        assert len(near) > 0, a
    defrosts = faults[faults["fault"] == "defrost"]
    assert len(defrosts) > 50
    quiet = 0
    for d in defrosts.itertuples():
        mine = planted[planted["device_id"] == d.device_id]
        faulty = (mine["start_ts"] <= d.end_ts + pd.Timedelta(hours=2)) & (
            mine["end_ts"] + pd.Timedelta(hours=2) >= d.start_ts
        )
        if not faulty.any():
            quiet += 1
            assert _overlaps(alerts, d.device_id, d.start_ts, d.end_ts).empty, d
    assert quiet > 50


def test_history_alarms_feed_the_page_query_and_leave_room_for_live_ids(world):
    """The page's alarm history lists them; the live engine numbers its alarms after them."""
    cur = world.cursor()
    as_of = pd.Timestamp(cur.execute("SELECT value FROM meta WHERE key = 'as_of'").fetchall()[0][0])
    hist = store.alarm_history(cur, as_of - pd.Timedelta(days=3))
    assert len(hist) == cur.execute("SELECT count(*) FROM alerts").fetchall()[0][0] > 0
    engine = live.AlarmEngine(cur)
    assert engine.tracker.next_id > int(hist["alert_id"].max())


def _rows(device, temps, start, received_at, step_s=60):
    n = len(temps)
    return pd.DataFrame(
        {
            "device_id": device,
            "ts": start + pd.to_timedelta(np.arange(n) * step_s, unit="s"),
            "temp_c": np.asarray(temps, dtype=float),
            "door_open": False,
            "battery": 90.0,
            "received_at": pd.Timestamp(received_at),
        }
    )


@pytest.mark.parametrize("hold", [0.0, 0.3])
def test_reorder_hold_evaluates_a_late_block_in_event_order(con, hold):
    """A block delivered after later readings: with the hold, the excursion in it raises
    high_temp from its true start and no offline; without it, a false offline and a late start.
    """
    start = pd.Timestamp(clock.local_now()).floor("min") - pd.Timedelta(hours=3)
    temps = [2.0] * 60 + [9.0] * 60 + [2.0] * 60  # excursion in the middle hour
    now = clock.local_now()
    whole = _rows("WH1-ROOM-C", temps, start, now)
    early, late, rest = whole.iloc[:60], whole.iloc[60:120], whole.iloc[120:]
    engine = live.AlarmEngine(con, reorder_quiet_s=hold, reorder_max_s=5.0)
    engine.evaluate(rows=pd.concat([early, rest]))
    engine.evaluate(rows=late)  # the middle hour arrives last
    if hold:
        assert engine.held == len(whole)
        time.sleep(hold + 0.1)
        engine.evaluate(rows=whole.iloc[:0])
        assert engine.held == 0
    alerts = con.execute("SELECT kind, started_at FROM alerts ORDER BY started_at").df()
    if hold:
        assert list(alerts["kind"]) == ["high_temp"]
        assert alerts["started_at"].iloc[0] == start + pd.Timedelta(minutes=60)
    else:  # what the hold prevents
        assert "offline" in set(alerts["kind"])
