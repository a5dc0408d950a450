"""End to end against a real broker: Mosquitto on 127.0.0.1:1883 when reachable, else amqtt.

Each test uses its own client id and topic prefix, so a shared Mosquitto is safe; its
sessions are MQTT 5 with a one-minute expiry so nothing lingers. The restart test uses an
embedded broker it owns (never the system Mosquitto).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import timedelta

import pandas as pd
import pytest

from connectors import broker, mqtt
from data import telemetry as telemetry_data
from engine import clock, db
from ops import wiring
from tests.connectors.conftest import mosquitto_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DEVICES = pd.DataFrame(
    {
        "device_id": ["CAB-1", "CAB-2", "ROOM-C"],
        "kind": ["cabinet", "cabinet", "room"],
        "storage": ["chilled", "chilled", "chilled"],
        "warehouse_id": [1, 1, 1],
        "vehicle_id": [None, None, None],
        "pickup_id": [1, 2, None],
        "lat": [28.21, 28.22, 28.2],
        "lon": [112.91, 112.92, 112.9],
        "interval_s": [60, 60, 60],
    }
)


@pytest.fixture(scope="module")
def target():
    """Settings factory for the broker under test: (client_id, prefix) -> MqttSettings."""
    if mosquitto_up():
        base = mqtt.MqttSettings(port=1883, protocol=5, session_expiry_s=60)
        yield lambda cid, prefix: mqtt.MqttSettings(
            **{**base.__dict__, "client_id": cid, "topic": f"{prefix}/+/+/telemetry"}
        )
        return
    with broker.EmbeddedBroker() as b:
        yield lambda cid, prefix: b.settings(client_id=cid, topic=f"{prefix}/+/+/telemetry")


@pytest.fixture
def fresh():
    """A fresh in-memory database with the three test devices."""
    con = db.connect(":memory:")
    con.register("d", DEVICES)
    con.execute("INSERT INTO devices SELECT * FROM d")
    con.unregister("d")
    return con


def _start(con, settings, alarms=True, receiver="thread"):
    if alarms:
        ing = wiring.live_ingester(con, settings, flush_s=0.05, receiver=receiver).start()
    else:
        ing = mqtt.Ingester(con, settings, flush_s=0.05, receiver=receiver).start()
    end = time.monotonic() + 10
    while not ing.status().connected and time.monotonic() < end:
        time.sleep(0.02)
    assert ing.status().connected
    time.sleep(0.1)  # let the SUBACK arrive before publishing
    return ing


def _wait_count(con, n, timeout=20.0, sql="SELECT count(*) FROM telemetry"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = con.cursor().execute(sql).fetchone()[0]
        if got >= n:
            return got
        time.sleep(0.05)
    return con.cursor().execute(sql).fetchone()[0]


def _reading(device="CAB-1", temp=2.0, age_s=0, **extra):
    ts = clock.local_now() - timedelta(seconds=age_s)
    return {"device_id": device, "ts": ts.isoformat(), "temp_c": temp, **extra}


@pytest.mark.parametrize("receiver", ["thread", "process"])
def test_publish_to_duckdb_end_to_end(target, fresh, receiver):
    """Readings published at QoS 1 arrive as telemetry rows with every field intact."""
    prefix, cid = f"t{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    ing = _start(fresh, target(cid, prefix), alarms=False, receiver=receiver)
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix), prefix=prefix)
    try:
        for i in range(200):
            pub.publish(
                1,
                _reading(
                    temp=2.0 + i / 100,
                    age_s=200 - i,
                    door_open=i % 2 == 0,
                    battery=80.0,
                    humidity=85.5,
                    lat=28.2,
                    lon=112.9,
                    msg_id=f"m{i}",
                ),
            )
        assert pub.flush(10)
        assert _wait_count(fresh, 200) == 200
        row = fresh.execute(
            "SELECT temp_c, door_open, battery, humidity, lat, lon, received_at "
            "FROM telemetry WHERE msg_id = 'm7'"
        ).fetchone()
        assert row[:6] == (2.07, False, 80.0, 85.5, 28.2, 112.9) and row[6] is not None
        st = ing.status()
        assert st.connected and st.inserted == 200 and st.quarantined == 0
    finally:
        pub.close()
        ing.stop()


def test_broker_restart_mid_stream_loses_nothing(fresh):
    """A stream at QoS 1 survives an embedded broker restart: every message lands once."""
    prefix, cid = "rst", "ing-restart"
    with broker.EmbeddedBroker(presubscribe={cid: [f"{prefix}/+/+/telemetry"]}) as b:
        ing = _start(
            fresh, b.settings(client_id=cid, topic=f"{prefix}/+/+/telemetry"), alarms=False
        )
        pub = mqtt.Publisher(b.settings(), client_id="pub-restart", prefix=prefix)
        assert pub.wait_connected(5)
        n = 600
        try:
            for i in range(n):
                pub.publish(1, _reading(age_s=n - i, msg_id=f"r{i}"))
                if i == 200:
                    b.restart()
                time.sleep(0.002)
            assert pub.flush(30)
            assert _wait_count(fresh, n, timeout=30) == n
            assert fresh.execute("SELECT count(DISTINCT msg_id) FROM telemetry").fetchone()[0] == n
        finally:
            pub.close()
            ing.stop()


def test_status_reports_disconnected_since_and_recovers(fresh):
    """When the broker goes away the status says since when; it reconnects by itself."""
    with broker.EmbeddedBroker(presubscribe={}) as b:
        ing = _start(fresh, b.settings(client_id="ing-status"), alarms=False)
        try:
            b.stop()
            end = time.monotonic() + 10
            while ing.status().connected and time.monotonic() < end:
                time.sleep(0.05)
            st = ing.status()
            assert not st.connected and st.since is not None
            b.start()
            end = time.monotonic() + 15
            while not ing.status().connected and time.monotonic() < end:
                time.sleep(0.1)
            assert ing.status().connected and ing.status().since > st.since
        finally:
            ing.stop()


def test_malformed_payloads_land_in_quarantine_with_reasons(target, fresh):
    """Each bad message is quarantined with its reason; good ones still flow."""
    prefix, cid = f"q{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    ing = _start(fresh, target(cid, prefix), alarms=False)
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix), prefix=prefix)
    topic = f"{prefix}/1/CAB-1/telemetry"
    good = _reading()
    cases = [
        (b"{not json", "not_json"),
        (json.dumps({"ts": good["ts"], "temp_c": 2}), "missing_field"),
        (json.dumps({**good, "temp_c": "warm"}), "wrong_type"),
        (json.dumps({**good, "temp_c": 150}), "impossible_value"),
        (
            json.dumps({**good, "ts": (clock.local_now() + timedelta(days=1)).isoformat()}),
            "future_timestamp",
        ),
        (json.dumps({**good, "device_id": "CAB-2"}), "topic_mismatch"),
    ]
    try:
        for payload, _ in cases:
            pub.publish_raw(topic, payload)
        pub.publish(1, _reading(device="GHOST-9"))
        pub.publish(1, _reading(msg_id="ok-1"))
        assert pub.flush(10)
        assert (
            _wait_count(fresh, len(cases) + 1, sql="SELECT count(*) FROM telemetry_quarantine")
            == len(cases) + 1
        )
        reasons = [
            r[0].split(":")[0]
            for r in fresh.execute(
                "SELECT reason FROM telemetry_quarantine ORDER BY reason"
            ).fetchall()
        ]
        assert sorted(reasons) == sorted([c[1] for c in cases] + ["unknown_device"])
        assert _wait_count(fresh, 1) == 1
        assert fresh.execute("SELECT msg_id FROM telemetry").fetchall() == [("ok-1",)]
        stored = fresh.execute(
            "SELECT payload FROM telemetry_quarantine WHERE reason LIKE 'not_json%'"
        ).fetchone()[0]
        assert stored == "{not json"
    finally:
        pub.close()
        ing.stop()


def test_redeliveries_not_double_counted_even_across_restart(target, fresh):
    """The same msg_id delivered again (QoS 1 redelivery) is stored once, also after a restart."""
    prefix, cid = f"d{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    settings = target(cid, prefix)
    ing = _start(fresh, settings, alarms=False)
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix), prefix=prefix)
    r = _reading(msg_id="dup-1")
    no_id = _reading(device="CAB-2", age_s=5)
    try:
        for _ in range(3):
            pub.publish(1, r)
            pub.publish_raw(f"{prefix}/1/CAB-2/telemetry", json.dumps(no_id))
        assert pub.flush(10)
        assert ing.wait_idle(10)
        assert fresh.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 2
        assert ing.status().duplicates == 4
        ing.stop()
        ing = _start(fresh, settings, alarms=False)
        pub.publish(1, r)
        pub.publish_raw(f"{prefix}/1/CAB-2/telemetry", json.dumps(no_id))
        pub.publish(1, _reading(msg_id="new-1"))
        assert pub.flush(10)
        assert _wait_count(fresh, 3) == 3
        assert ing.wait_idle(10)
        counts = dict(
            fresh.execute("SELECT device_id, count(*) FROM telemetry GROUP BY 1").fetchall()
        )
        assert counts == {"CAB-1": 2, "CAB-2": 1}  # dup-1 once, new-1, the id-less one once
    finally:
        pub.close()
        ing.stop()


def _publish_frame(pub, frame):
    for rec in frame.to_dict("records"):
        body = {
            k: v
            for k, v in rec.items()
            if k in ("device_id", "temp_c", "door_open", "battery", "humidity")
        }
        body["ts"] = rec["ts"].isoformat()
        body["door_open"] = bool(rec["door_open"])
        pub.publish(1, body)


def test_compressor_failure_alarm_raises_and_clears_with_hysteresis(target, fresh):
    """A planted compressor failure raises a high_temp alarm that clears after recovery."""
    prefix, cid = f"c{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    end = pd.Timestamp(clock.local_now()).floor("min")
    start = end - pd.Timedelta(hours=5)
    fault = pd.DataFrame(
        {
            "device_id": ["ROOM-C"],
            "fault": ["compressor_failure"],
            "start_ts": [start + pd.Timedelta(hours=1)],
            "end_ts": [start + pd.Timedelta(hours=3)],
        }
    )
    devs = DEVICES[DEVICES["device_id"] == "ROOM-C"]
    # A defrost-free stretch: the room's defrost is pushed out of the window.
    sim = telemetry_data.SimSettings(defrost_every_s=10 * 86400.0)
    frame = telemetry_data.simulate(devs, start, end, fault, seed=3, settings=sim)
    ing = _start(fresh, target(cid, prefix))
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix), prefix=prefix)
    try:
        _publish_frame(pub, frame)
        assert pub.flush(10)
        assert _wait_count(fresh, len(frame)) == len(frame)
        assert ing.wait_idle(10)
        time.sleep(0.6)
        assert ing.wait_idle(10)
        alerts = fresh.execute("SELECT * FROM alerts WHERE device_id = 'ROOM-C'").df()
        assert list(alerts["kind"]) == ["high_temp"]
        a = alerts.iloc[0]
        assert fault["start_ts"][0] <= a["started_at"] <= fault["end_ts"][0]
        assert a["raised_at"] - a["started_at"] >= pd.Timedelta(minutes=20)
        assert a["severity"] == "critical" and a["peak_c"] > 7
        assert pd.notna(a["cleared_at"]) and a["cleared_at"] > fault["end_ts"][0]
        # Hysteresis: it was already back inside 0–4 °C before it cleared, and cleared only
        # once at or below 3 °C.
        rec = frame[(frame["ts"] > fault["end_ts"][0]) & (frame["ts"] <= a["cleared_at"])]
        first_inside = rec[rec["temp_c"] <= 4.0]["ts"].min()
        assert first_inside < a["cleared_at"]
        at_clear = frame[frame["ts"] == a["cleared_at"]]["temp_c"].iloc[0]
        assert at_clear <= 3.0
    finally:
        pub.close()
        ing.stop()


def test_defrost_shorter_than_hold_raises_no_alarm(target, fresh):
    """Defrost bumps above 4 °C (12 min) stay under the 20-minute hold: no alarm at all."""
    prefix, cid = f"f{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    end = pd.Timestamp(clock.local_now()).floor("min")
    start = end - pd.Timedelta(hours=7)
    devs = DEVICES[DEVICES["device_id"] == "ROOM-C"]
    none = pd.DataFrame(columns=["device_id", "fault", "start_ts", "end_ts"])
    frame = telemetry_data.simulate(devs, start, end, none, seed=3)
    assert (frame["temp_c"] > 4.0).sum() >= 3  # the defrost does leave the range
    ing = _start(fresh, target(cid, prefix))
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix), prefix=prefix)
    try:
        _publish_frame(pub, frame)
        assert pub.flush(10)
        assert _wait_count(fresh, len(frame)) == len(frame)
        assert ing.wait_idle(10)
        time.sleep(0.6)
        assert (
            fresh.execute("SELECT count(*) FROM alerts WHERE device_id = 'ROOM-C'").fetchone()[0]
            == 0
        )
    finally:
        pub.close()
        ing.stop()


def test_threads_are_released(fresh):
    """Stopping the ingester leaves no writer thread behind."""
    with broker.EmbeddedBroker(presubscribe={}) as b:
        ing = _start(fresh, b.settings(client_id="ing-threads"), alarms=False)
        ing.stop()
    assert not any(t.name == "linli-mqtt-writer" and t.is_alive() for t in threading.enumerate())


def _crash(ing):
    """Kill the ingester's connection as a crash would: no DISCONNECT, nothing committed."""
    client = ing.client
    client._thread_terminate = True  # paho's loop thread ends instead of reconnecting
    sock = client._sock
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    client.loop_stop()
    ing._stop.set()
    ing._queue.put(None)


@pytest.mark.parametrize("after_commit", [True, False])
def test_crash_before_commit_loses_nothing_with_acks_after_commit(target, fresh, after_commit):
    """Messages received but not committed when the app dies come back at the next start.

    The control case (acknowledged on receipt) shows the crash is real: those are gone.
    """
    prefix, cid = f"k{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    settings = target(cid, prefix)
    if after_commit and settings.protocol != 5:
        pytest.skip(
            "acknowledging after commit needs an MQTT 5 broker (Mosquitto); the embedded "
            "amqtt speaks 3.1.1, where the ingester acknowledges on receipt"
        )
    first = mqtt.Ingester(fresh, settings, flush_s=0.05, ack_after_commit=after_commit)

    def fail(cur, batch):
        raise RuntimeError("disk full")  # the writer never commits

    first._write = fail
    first.start()
    end = time.monotonic() + 10
    while not first.status().connected and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.1)
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix), prefix=prefix)
    n = 50
    try:
        for i in range(n):
            pub.publish(1, _reading(age_s=n - i, msg_id=f"k{i}"))
        assert pub.flush(10)
        end = time.monotonic() + 10
        while first._enqueued < n and time.monotonic() < end:
            time.sleep(0.02)
        assert first._enqueued == n  # all received (and, on receipt, acknowledged)
        time.sleep(0.3)  # time for acknowledgements to leave, if any were sent
        _crash(first)
        second = _start(fresh, settings, alarms=False)
        try:
            got = _wait_count(fresh, n, timeout=5 if after_commit else 2)
        finally:
            second.stop()
    finally:
        pub.close()
        mqtt.purge_session(settings)
    assert got == (n if after_commit else 0)
