"""engine.coldchain.live: the alarm engine as the ingester's sink (on_commit, pending)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from engine import clock, db
from engine.coldchain import live


def _world():
    con = db.connect(":memory:")
    con.execute(
        "INSERT INTO devices VALUES ('ROOM-C', 'room', 'chilled', 1, NULL, NULL, 28.2, 112.9, 60)"
    )
    return con


def _committed(con, temps):
    """Store readings ending now as one committed batch and return the rows a writer hands on."""
    now = pd.Timestamp(clock.local_now()).floor("s")
    rows = pd.DataFrame(
        {
            "device_id": "ROOM-C",
            "ts": now - pd.to_timedelta(np.arange(len(temps))[::-1] * 60, unit="s"),
            "temp_c": np.asarray(temps, dtype=float),
            "door_open": pd.array([None] * len(temps), dtype="boolean"),
            "battery": 90.0,
            "received_at": pd.Timestamp(clock.local_now()),  # arrived just now
        }
    )
    con.register("_rows", rows)
    con.execute("INSERT INTO telemetry BY NAME SELECT * FROM _rows")
    con.unregister("_rows")
    return rows


def test_on_commit_evaluates_and_writes_through_the_writers_cursor():
    """Rows handed over raise the alarm they imply, written through the cursor passed in."""
    con = _world()
    engine = live.AlarmEngine(con)
    rows = _committed(con, [2.0] * 5 + [6.0] * 25)
    writer = con.cursor()
    changes = engine.on_commit(writer, rows)
    assert list(changes["kind"]) == ["high_temp"]
    assert writer.execute("SELECT kind FROM alerts").fetchall() == [("high_temp",)]
    assert engine.pending() == 0


def test_pending_counts_rows_held_for_reordering():
    """With a reorder hold, pending() is what waits; an idle call releases it into alerts."""
    con = _world()
    engine = live.AlarmEngine(con, reorder_quiet_s=0.3, reorder_max_s=5.0)
    rows = _committed(con, [6.0] * 30)
    writer = con.cursor()
    assert engine.on_commit(writer, rows).empty
    assert engine.pending() == 30
    time.sleep(0.4)
    changes = engine.on_commit(writer, rows.iloc[:0])
    assert engine.pending() == 0
    assert list(changes["kind"]) == ["high_temp"]
