"""The lake writer without a broker: partitions, atomic files, exactly-once keys, the reader."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from connectors.mqtt import lake as lake_cli
from connectors.mqtt import lakefiles, payload
from engine import db
from engine.coldchain import alarms
from ops import wiring

NOW = datetime(2026, 7, 2, 12, 0, 0)


def _msg(device, wh, ts, temp=3.0, msg_id=None, mid=1, **extra):
    body = {"device_id": device, "ts": ts.isoformat(), "temp_c": temp, **extra}
    if msg_id is not None:
        body["msg_id"] = msg_id
    return (f"linli/{wh}/{device}/telemetry", json.dumps(body).encode(), mid)


def _files(lake, table="telemetry"):
    return sorted(p.relative_to(lake).as_posix() for p in (lake / table).rglob("*.parquet"))


def test_rows_land_in_their_day_and_warehouse_with_the_telemetry_table_columns(tmp_path):
    """Each (day, warehouse) gets one file per batch; columns and values match the table's."""
    lake = tmp_path / "lake"
    w = lakefiles.LakeWriter(lake, "ing-1")
    day1 = NOW - timedelta(days=1, hours=2)
    batch = [
        _msg("C1", 1, day1, 2.5, "a", humidity=80.0, door_open=True, battery=91.0, lat=28.2),
        _msg("C2", 2, day1, 4.0, "b"),
        _msg("C1", 1, NOW - timedelta(minutes=5), 3.5, "c", lon=112.9),
    ]
    res = w.write(batch, now=NOW)
    assert (res.written, res.duplicates, res.quarantined) == (3, 0, 0)
    files = _files(lake)
    assert [f.rsplit("/", 1)[0] for f in files] == [
        f"telemetry/day={day1.date()}/warehouse_id=1",
        f"telemetry/day={day1.date()}/warehouse_id=2",
        f"telemetry/day={NOW.date()}/warehouse_id=1",
    ]
    assert all(f.rsplit("/", 1)[1].startswith("ing-1-") for f in files)
    table_cols = [r[0] for r in db.connect(":memory:").execute("DESCRIBE telemetry").fetchall()]
    assert pq.read_schema(lake / files[0]).names == table_cols == payload.TELEMETRY_COLUMNS
    df = lakefiles.read_telemetry(lake).set_index("msg_id")
    a = df.loc["a"]
    assert (a.device_id, a.ts, a.temp_c, a.humidity, a.door_open, a.battery, a.lat) == (
        "C1",
        pd.Timestamp(day1),
        2.5,
        80.0,
        True,
        91.0,
        28.2,
    )
    assert a.warehouse_id == 1 and str(a.day)[:10] == str(day1.date())
    assert df.loc["c", "lon"] == 112.9 and pd.isna(df.loc["b", "humidity"])
    assert (df["received_at"] == pd.Timestamp(NOW)).all()


def test_a_batch_becomes_visible_whole_or_not_at_all(tmp_path, monkeypatch):
    """A write that fails leaves no visible file and raises (so nothing is acknowledged)."""
    lake = tmp_path / "lake"
    w = lakefiles.LakeWriter(lake, "ing-1")
    calls = []
    real = os.replace

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    batch = [_msg("C1", 1, NOW, 3.0, "a"), _msg("C2", 2, NOW, 3.0, "b")]
    with pytest.raises(OSError, match="No space"):
        w.write(batch, now=NOW)
    monkeypatch.setattr(os, "replace", real)
    # The first partition's file is complete; the second never appeared under its name.
    assert len(_files(lake)) == 1 and not list(lake.rglob("*.tmp"))
    # The ingester retries the batch: only the missing row is added.
    res = w.write(batch, now=NOW)
    assert (res.written, res.duplicates) == (1, 1)
    assert lakefiles.file_rows(lake) == (2, 2)
    # A writer that never saw the first file (a restart without loading keys) repeats it:
    # the reader hides the repeated row.
    assert lakefiles.LakeWriter(lake, "ing-2").write(batch, now=NOW).written == 2
    assert sorted(lakefiles.read_telemetry(lake)["msg_id"]) == ["a", "b"]
    assert lakefiles.file_rows(lake) == (4, 2)


def test_redeliveries_are_dropped_by_the_writer_and_after_a_restart(tmp_path):
    """A key already written is dropped: within a batch, later, and by a writer loading keys."""
    lake = tmp_path / "lake"
    w = lakefiles.LakeWriter(lake, "ing-1")
    first = [_msg("C1", 1, NOW, 3.0, "a"), _msg("C1", 1, NOW, 3.0, "a"), _msg("C2", 1, NOW)]
    assert w.write(first, now=NOW).written == 2  # "a" once, C2 keyed by its timestamp
    assert w.write(first, now=NOW).duplicates == 3
    # Same msg_id on another device is another reading.
    assert w.write([_msg("C2", 1, NOW, 3.0, "a")], now=NOW).written == 1
    other = lakefiles.LakeWriter(lake, "ing-2")
    assert other.load_keys(since_s=3600) == 3
    res = other.write([*first, _msg("C3", 1, NOW, 3.0, "z")], now=NOW)
    assert (res.written, res.duplicates) == (1, 3)
    assert lakefiles.file_rows(lake) == (4, 4)


def test_reader_keeps_one_row_per_key_the_first_written(tmp_path):
    """Two members that both wrote a reading (the takeover window): the reader shows it once."""
    lake = tmp_path / "lake"
    msgs = [
        _msg(f"C{i % 7}", 1 + i % 3, NOW - timedelta(seconds=i), 2.0, f"m{i}") for i in range(50)
    ]
    lakefiles.LakeWriter(lake, "a").write(msgs, now=NOW - timedelta(seconds=1))
    lakefiles.LakeWriter(lake, "b").write(msgs[:20], now=NOW)
    assert lakefiles.file_rows(lake) == (70, 50)
    df = lakefiles.read_telemetry(lake)
    assert len(df) == 50 and sorted(df["msg_id"]) == sorted(f"m{i}" for i in range(50))
    assert (df["received_at"] == pd.Timestamp(NOW - timedelta(seconds=1))).all()
    sql, params = lakefiles.telemetry_sql(lake)
    assert duckdb.connect().execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0] == 50


def test_bad_messages_are_quarantined_with_reasons_and_good_ones_kept(tmp_path):
    """Per-message isolation: rejected messages go to the quarantine partition with reasons."""
    lake = tmp_path / "lake"
    w = lakefiles.LakeWriter(lake, "ing-1", known_devices={"C1": 1})
    batch = [
        ("linli/1/C1/telemetry", b"{not json", 1),
        _msg("C1", 1, NOW, 150.0, "hot"),
        _msg("GHOST", 1, NOW, 3.0, "g"),
        _msg("C1", 2, NOW, 3.0, "wrong-wh"),
        _msg("C1", 1, NOW, 3.0, "ok"),
    ]
    res = w.write(batch, now=NOW)
    assert (res.written, res.quarantined) == (1, 4)
    q = pd.concat(pd.read_parquet(lake / f) for f in _files(lake, "telemetry_quarantine"))
    assert list(q.columns) == lakefiles.QUARANTINE_COLUMNS
    codes = sorted(r.split(":")[0] for r in q["reason"])
    assert codes == ["impossible_value", "not_json", "topic_mismatch", "unknown_device"]
    assert list(lakefiles.read_telemetry(lake)["msg_id"]) == ["ok"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("x") and p, "is a file, not a directory"),
        (lambda p: (p.mkdir(), p.chmod(0o500), p)[2], "is not writable"),
    ],
)
def test_a_bad_lake_path_is_a_clear_error(tmp_path, make, message):
    """A lake path that is a file or read-only is refused with a one-line reason."""
    if "writable" in message and os.geteuid() == 0:
        pytest.skip("root writes into read-only directories: the check cannot fail here")
    path = make(tmp_path / "lake")
    with pytest.raises(ValueError, match=message):
        lakefiles.check_lake(path)


def test_the_cli_refuses_a_bad_lake_path_with_exit_code_2(tmp_path, capsys):
    """python -m connectors.mqtt.lake with a file as --lake prints the error and returns 2."""
    bad = tmp_path / "file"
    bad.write_text("x")
    assert lake_cli.main(["--lake", str(bad), "--id", "x"]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("alive", "dead", "expected"),
    [
        (["a", "c"], "b", "c"),  # the next id after the dead one
        (["a", "b"], "c", "a"),  # wrapping around
        (["ingester-2", "ingester-10"], "ingester-1", "ingester-10"),  # text order
        (["b"], "a", "b"),
        ([], "a", None),
    ],
)
def test_exactly_one_live_member_adopts_a_dead_session(alive, dead, expected):
    """Every member computes the same adopter from the same presence."""
    assert lake_cli.adopter(alive, dead) == expected
    assert lake_cli.adopter(list(reversed(alive)), dead) == expected


def test_bad_ingester_ids_are_refused(tmp_path):
    """An ingester id that would escape the file name is refused."""
    with pytest.raises(ValueError, match="ingester id"):
        lakefiles.LakeWriter(tmp_path, "../x")


DEVICES = pd.DataFrame(
    {
        "device_id": ["CAB-1", "CAB-2", "ROOM-C"],
        "kind": ["cabinet", "cabinet", "room"],
        "storage": ["chilled", "chilled", "frozen"],
        "warehouse_id": [1, 1, 2],
        "interval_s": [60, 60, 60],
    }
)


def test_alarm_state_is_right_whichever_member_stored_each_reading(tmp_path):
    """Readings split at random over two members, out of order, some stored twice: same episodes."""
    start = NOW - timedelta(hours=4)
    readings = []
    for dev, wh, base, hot in (
        ("CAB-1", 1, 4.0, 9.5),
        ("CAB-2", 1, 3.0, 3.0),
        ("ROOM-C", 2, -20.0, -5.0),
    ):
        for k in range(180):
            t = start + timedelta(minutes=k)
            temp = hot if 60 <= k < 100 else base  # a planted 40-minute excursion
            readings.append((dev, wh, t, temp, f"{dev}-{k}"))
    truth = pd.DataFrame(readings, columns=["device_id", "wh", "ts", "temp_c", "msg_id"])
    expected = alarms.excursions(truth, DEVICES)
    # The planted truth: one high-temperature episode on CAB-1 and ROOM-C each, none on CAB-2.
    assert sorted(expected["device_id"]) == ["CAB-1", "ROOM-C"]
    assert set(expected["kind"]) == {"high_temp"}
    assert (expected["started_at"] == pd.Timestamp(start + timedelta(minutes=60))).all()
    rng = random.Random(7)
    shuffled = readings[:]
    rng.shuffle(shuffled)
    writers = [lakefiles.LakeWriter(tmp_path, "a"), lakefiles.LakeWriter(tmp_path, "b")]
    batches: list[list[list]] = [[], []]
    for dev, wh, t, temp, mid in shuffled:
        batches[rng.randrange(2)].append(_msg(dev, wh, t, temp, mid))
    for i in range(0, 600, 100):  # interleaved micro-batches of both members
        for w, b in zip(writers, batches, strict=True):
            if b[i : i + 100]:
                w.write(b[i : i + 100], now=NOW)
    # The takeover window: member b stores again 50 readings member a already stored.
    writers[1].write(batches[0][:50], now=NOW + timedelta(seconds=1))
    got = wiring.lake_alarms(tmp_path, DEVICES)
    cols = [c for c in alarms.EPISODE_COLUMNS if c != "alert_id"]
    pd.testing.assert_frame_equal(got[cols], expected[cols])
