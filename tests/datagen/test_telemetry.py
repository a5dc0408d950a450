"""data.telemetry (the simulator's physics): deterministic history, recoverable faults."""

from __future__ import annotations

import pandas as pd
import pytest

from data import telemetry
from engine import db
from engine.coldchain import alarms

DEVICES = pd.DataFrame(
    {
        "device_id": ["WH1-ROOM-C", "WH1-ROOM-F", "TRK-1", "TRK-2", "CAB-1", "CAB-2", "CAB-3"],
        "kind": ["room", "room", "truck", "truck", "cabinet", "cabinet", "cabinet"],
        "storage": ["chilled", "frozen", "chilled", "chilled", "chilled", "chilled", "chilled"],
        "warehouse_id": [1] * 7,
        "vehicle_id": [None, None, 1, 2, None, None, None],
        "pickup_id": [None, None, None, None, 1, 2, 3],
        "lat": [28.2, 28.2, None, None, 28.21, 28.22, 28.19],
        "lon": [112.9, 112.9, None, None, 112.91, 112.95, 112.88],
        "interval_s": [60] * 7,
    }
)
START, END = pd.Timestamp("2026-07-01"), pd.Timestamp("2026-07-08")


@pytest.fixture(scope="module")
def week():
    """One simulated week of the small fleet."""
    return telemetry.history(DEVICES, START, END, seed=7)


def test_history_is_deterministic_and_schema_shaped(week):
    """Same seed, same frames; columns match the telemetry table; window respected."""
    tel, faults = week
    tel2, faults2 = telemetry.history(DEVICES, START, END, seed=7)
    pd.testing.assert_frame_equal(tel, tel2)
    pd.testing.assert_frame_equal(faults, faults2)
    con = db.connect(":memory:")
    cols = [r[0] for r in con.execute("DESCRIBE telemetry").fetchall()]
    assert list(tel.columns) == cols
    assert tel["ts"].min() >= START and tel["ts"].max() < END
    assert set(faults["fault"]) == {*telemetry.FAULT_KINDS, "defrost"}


def test_normal_operation_stays_in_range(week):
    """Outside faults and defrosts, chilled readings sit inside 0–4 °C and frozen below -18."""
    tel, faults = week
    bad = faults.assign(end_ts=faults["end_ts"] + pd.Timedelta(hours=3))
    mask = pd.Series(False, index=tel.index)
    for f in bad.itertuples():
        mask |= (tel["device_id"] == f.device_id) & tel["ts"].between(f.start_ts, f.end_ts)
    quiet = tel[~mask].merge(DEVICES[["device_id", "storage"]], on="device_id")
    chilled = quiet[quiet["storage"] == "chilled"]["temp_c"]
    assert chilled.between(0, 4).mean() > 0.99
    assert (quiet[quiet["storage"] == "frozen"]["temp_c"] < -18).all()


def test_planted_faults_are_recovered_by_alarm_rules(week):
    """Every compressor failure and door left open raises its alarm; defrosts raise none."""
    tel, faults = week
    ep = alarms.excursions(tel, DEVICES)
    for f in faults[faults["fault"] != "defrost"].itertuples():
        kind = {
            "compressor_failure": "high_temp",
            "door_left_open": "door_open",
            "sensor_dropout": "offline",
        }[f.fault]
        hit = ep[
            (ep["device_id"] == f.device_id)
            & (ep["kind"] == kind)
            & (ep["started_at"] <= f.end_ts)
            & (ep["started_at"] >= f.start_ts - pd.Timedelta(minutes=5))
        ]
        assert len(hit) == 1, f
    # Every high_temp alarm is explained by a compressor failure or an open door.
    causes = faults[faults["fault"].isin(["compressor_failure", "door_left_open"])]
    for a in ep[ep["kind"] == "high_temp"].itertuples():
        c = causes[
            (causes["device_id"] == a.device_id)
            & (causes["start_ts"] <= a.started_at)
            & (causes["end_ts"] >= a.started_at - pd.Timedelta(hours=1))
        ]
        assert len(c) >= 1, a


def test_trucks_move_and_open_doors_at_stops(week):
    """Trucks report GPS that leaves the warehouse in the shift; doors open at stops only."""
    tel, _ = week
    trk = tel[tel["device_id"] == "TRK-1"]
    assert trk["lat"].nunique() > 50
    night = trk[trk["ts"].dt.hour < 5]
    assert (night["lat"] == night["lat"].iloc[0]).all() and not night["door_open"].any()
    assert trk[trk["ts"].dt.hour.between(6, 11)]["door_open"].any()


def test_load_devices_falls_back_to_sidecar_when_locked(tmp_path):
    """With the DB held for writing, the simulator reads <db>.devices.json (written by the app)."""
    path = tmp_path / "w.duckdb"
    con = db.connect(path)
    con.register("d", DEVICES)
    con.execute("INSERT INTO devices SELECT * FROM d")
    with pytest.raises(ValueError, match=r"devices\.json"):
        telemetry.load_devices(path)
    telemetry.export_devices(con, f"{path}.devices.json")
    got = telemetry.load_devices(path)
    assert list(got["device_id"]) == sorted(DEVICES["device_id"])
    con.close()
    assert len(telemetry.load_devices(path)) == 7  # read-only open once released


def test_history_rejects_bad_input():
    """An empty window or a frame without columns raise ValueError."""
    with pytest.raises(ValueError, match="start_ts < end_ts"):
        telemetry.history(DEVICES, END, START, seed=1)
    with pytest.raises(ValueError, match="interval_s"):
        telemetry.history(DEVICES.drop(columns="interval_s"), START, END, seed=1)


def test_load_history_fills_telemetry_and_truth():
    """load_history writes the window's readings and the planted faults into the database."""
    con = db.connect(":memory:")
    con.register("d", DEVICES)
    con.execute("INSERT INTO devices SELECT * FROM d")
    n_tel, n_faults = telemetry.load_history(con, END, days=2, seed=3)
    got = con.execute("SELECT count(*), min(ts), max(ts) FROM telemetry").fetchall()[0]
    assert got[0] == n_tel > 0 and got[1] >= END - pd.Timedelta(days=2) and got[2] < END
    kinds = {r[0] for r in con.execute("SELECT DISTINCT fault FROM truth_device_faults").fetchall()}
    assert kinds == {*telemetry.FAULT_KINDS, "defrost"}
    assert con.execute("SELECT count(*) FROM truth_device_faults").fetchall()[0][0] == n_faults
    with pytest.raises(ValueError, match="days"):
        telemetry.load_history(con, END, days=0, seed=3)


def test_coarse_history_is_not_offline():
    """History sampled every 5 minutes (devices report every minute) shows only real dropouts."""
    tel, faults = telemetry.history(
        DEVICES, START, START + pd.Timedelta(days=3), seed=7, step_s=300
    )
    ep = alarms.excursions(tel, DEVICES)
    drops = faults[faults["fault"] == "sensor_dropout"]
    assert (ep["kind"] == "offline").sum() == len(drops)
