"""MQTT settings parsing and message validation (no broker needed)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors import mqtt
from connectors.mqtt import payload as telemetry_payload

NOW = datetime(2026, 7, 1, 12, 0, 0)
GOOD = {"device_id": "CAB-1", "ts": "2026-07-01T11:59:00", "temp_c": 2.5}
TOPIC = "linli/1/CAB-1/telemetry"

# (payload, reason code) — shared with the integration suite.
MALFORMED = [
    (b"{not json", "not_json"),
    (b"\xff\xfe\x00", "not_json"),
    (b"[1, 2]", "not_json"),
    (json.dumps({"ts": GOOD["ts"], "temp_c": 2.0}).encode(), "missing_field: device_id"),
    (json.dumps({"device_id": "CAB-1", "temp_c": 2.0}).encode(), "missing_field: ts"),
    (json.dumps({"device_id": "CAB-1", "ts": GOOD["ts"]}).encode(), "missing_field: temp_c"),
    (json.dumps({**GOOD, "temp_c": "2.5"}).encode(), "wrong_type: temp_c"),
    (json.dumps({**GOOD, "temp_c": True}).encode(), "wrong_type: temp_c"),
    (json.dumps({**GOOD, "door_open": "yes"}).encode(), "wrong_type: door_open"),
    (json.dumps({**GOOD, "ts": "yesterday"}).encode(), "wrong_type: ts"),
    (json.dumps({**GOOD, "device_id": 7}).encode(), "wrong_type: device_id"),
    (json.dumps({**GOOD, "temp_c": 150.0}).encode(), "impossible_value: temp_c"),
    (json.dumps({**GOOD, "humidity": 130}).encode(), "impossible_value: humidity"),
    (json.dumps({**GOOD, "battery": -5}).encode(), "impossible_value: battery"),
    (json.dumps({**GOOD, "lat": 95.0}).encode(), "impossible_value: lat"),
    (json.dumps({**GOOD, "ts": "2026-07-02T12:00:00"}).encode(), "future_timestamp"),
    (json.dumps({**GOOD, "device_id": "CAB-2"}).encode(), "topic_mismatch"),
]


def test_good_message_parses_with_defaults():
    """A minimal valid reading becomes a row; absent optional fields are None."""
    row = telemetry_payload.parse_message(TOPIC, json.dumps(GOOD).encode(), {"CAB-1"}, NOW)
    assert row == ("CAB-1", datetime(2026, 7, 1, 11, 59), 2.5, None, None, None, None, None, None)


def test_zone_aware_and_epoch_timestamps_become_local_time():
    """UTC ISO stamps and epoch seconds are converted to Changsha wall time (UTC+8)."""
    row = telemetry_payload.parse_message(
        TOPIC, json.dumps({**GOOD, "ts": "2026-07-01T03:00:00Z"}).encode(), None, NOW
    )
    assert row[1] == datetime(2026, 7, 1, 11, 0)
    epoch = datetime(2026, 7, 1, 3, 0).timestamp() - datetime(1970, 1, 1).timestamp()
    row = telemetry_payload.parse_message(
        TOPIC, json.dumps({**GOOD, "ts": epoch}).encode(), None, NOW
    )
    assert row[1] == datetime(2026, 7, 1, 11, 0)


@pytest.mark.parametrize(("payload", "reason"), MALFORMED)
def test_malformed_messages_are_rejected_with_reason(payload, reason):
    """Each kind of bad message raises RejectedError naming the problem."""
    with pytest.raises(telemetry_payload.RejectedError, match=f"^{reason}"):
        telemetry_payload.parse_message(TOPIC, payload, {"CAB-1", "CAB-2"}, NOW)


def test_unknown_device_rejected():
    """A device not in the devices table is quarantined as unknown_device."""
    with pytest.raises(telemetry_payload.RejectedError, match=r"^unknown_device: CAB-1"):
        telemetry_payload.parse_message(TOPIC, json.dumps(GOOD).encode(), {"CAB-9"}, NOW)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1", {"host": "127.0.0.1", "port": 1883, "tls": False}),
        ("mqtts://broker.example.com", {"port": 8883, "tls": True}),
        (
            "mqtts://ops%40linli:p%3Ass@emqx:8884/?client_id=app1&protocol=5&ca=/etc/ca.pem",
            {
                "username": "ops@linli",
                "password": "p:ss",
                "port": 8884,
                "client_id": "app1",
                "protocol": 5,
                "ca_file": "/etc/ca.pem",
            },
        ),
    ],
)
def test_settings_from_url(url, expected):
    """LINLI_MQTT_URL carries host, port, TLS, credentials and options."""
    s = mqtt.MqttSettings.from_url(url)
    for k, v in expected.items():
        assert getattr(s, k) == v
    assert "@" not in s.describe()


def test_settings_from_env_and_bad_scheme(monkeypatch):
    """The environment variable is read; other schemes raise ValueError."""
    monkeypatch.setenv("LINLI_MQTT_URL", "mqtt://u:p@h:1999")
    assert mqtt.MqttSettings.from_url().port == 1999
    with pytest.raises(ValueError, match="scheme"):
        mqtt.MqttSettings.from_url("http://h")
    with pytest.raises(ValueError, match="protocol"):
        mqtt.MqttSettings.from_url("mqtt://h/?protocol=7")


def test_ingester_rejects_unknown_receiver():
    """Only the thread and process receivers exist."""
    from engine import db

    with pytest.raises(ValueError, match="receiver"):
        mqtt.Ingester(db.connect(":memory:"), mqtt.MqttSettings(), receiver="fork")


# ---------------------------------------------------------------------- StreamClient
def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_packet(topic, payload, qos, mid, v5, props=b""):
    body = len(topic).to_bytes(2, "big") + topic.encode()
    if qos:
        body += mid.to_bytes(2, "big")
    if v5:
        body += _varint(len(props)) + props
    body += payload
    return bytes([0x30 | qos << 1]) + _varint(len(body)) + body


def _drain(sock):
    """What the client wrote to its socket (paho writes at once without a loop thread)."""
    sock.setblocking(False)
    out = b""
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return out
        if not data:
            return out
        out += data


def _stream(v5):
    """PUBLISH packets of every shape (QoS 0/1, long payloads, properties) and a PINGRESP."""
    msgs, packets = [], []
    for i in range(60):
        qos = 0 if i % 7 == 3 else 1
        mid = 0 if qos == 0 else 1 + i * 997 % 65535
        size = 20_000 if i in (2, 29, 56) else (5, 130)[i % 2]  # remaining length 1-3 bytes
        payload = json.dumps({"i": i, "pad": "x" * size}).encode()
        topic = f"linli/{i % 3}/CAB-{i}/telemetry"
        # v5: some with properties (payload format indicator, user property)
        props = b"\x01\x01" + b"\x26\x00\x01k\x00\x01v" if v5 and i % 4 == 0 else b""
        packets.append(_publish_packet(topic, payload, qos, mid, v5, props))
        msgs.append((topic, payload, mid))
        if i == 30:
            packets.append(b"\xd0\x00")  # PINGRESP: paho's own handling in between
    return msgs, b"".join(packets), packets


@pytest.mark.parametrize("v5", [False, True])
@pytest.mark.parametrize("chunk", [1, 3, 100, 4096, 1 << 20])
def test_stream_client_delivers_what_paho_decodes_and_acks_in_order(v5, chunk):
    """Chunked reads and the fast PUBLISH path agree with paho, however the bytes arrive."""
    import socket

    from paho.mqtt import _packet
    from paho.mqtt.enums import MQTTProtocolVersion

    msgs, stream, packets = _stream(v5)
    proto = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    for pkt, (topic, payload, mid) in zip(
        [p for p in packets if p[0] & 0xF0 == 0x30], msgs, strict=True
    ):  # the packets are valid in paho's eyes
        n = 1
        while pkt[n] & 0x80:
            n += 1
        r = _packet.decode_publish(pkt[0], pkt[n + 1 :], proto)
        assert (r.topic.decode(), r.payload, r.mid) == (topic, payload, mid)
    client = mqtt.make_client(mqtt.MqttSettings(protocol=5 if v5 else 4, client="stream"), "t")
    got = []
    bursts = []
    client.on_raw_message = lambda t, p, m: got.append((t, p, m))
    client.on_burst = lambda: bursts.append(len(got))
    a, b = socket.socketpair()
    a.setblocking(False)
    client._sock = a
    acks = b""
    try:
        for k in range(0, len(stream), chunk):
            b.sendall(stream[k : k + chunk])
            while True:
                before = len(got), client._rpos, len(client._rdata)
                assert client.loop_read() == 0
                if (len(got), client._rpos, len(client._rdata)) == before:
                    break
            acks += _drain(b)
    finally:
        client._sock = None
        a.close()
        b.close()
    assert got == msgs
    assert bursts and bursts[-1] == len(msgs)
    want = b"".join(b"\x40\x02" + m.to_bytes(2, "big") for _, _, m in msgs if m)
    assert acks == want  # QoS 1 only, in arrival order


def test_stream_client_manual_ack_respects_the_connection_epoch():
    """Acknowledgements go out in one packet, and never for an earlier connection."""
    import socket

    client = mqtt.make_client(mqtt.MqttSettings(protocol=5, client="stream"), "t", manual_ack=True)
    a, b = socket.socketpair()
    client._sock = a
    try:
        client.epoch = 3
        assert client.ack_batch(3, [5, 0, 6])
        assert not client.ack_batch(2, [7])
        assert _drain(b) == b"\x40\x02\x00\x05\x40\x02\x00\x06"
    finally:
        client._sock = None
        a.close()
        b.close()
    assert not client.ack_batch(3, [8])  # no connection: nothing queued


def test_protocol_auto_is_resolved_and_unreachable_broker_means_mqtt5():
    """``auto`` is the default; a broker that cannot be reached is assumed to speak MQTT 5."""
    from connectors import broker

    assert mqtt.MqttSettings.from_url("mqtt://h").protocol == mqtt.AUTO
    assert mqtt.MqttSettings.from_url("mqtt://h/?protocol=3.1.1").protocol == 4
    with pytest.raises(ValueError, match="Resolve"):
        mqtt.make_client(mqtt.MqttSettings(), "x")
    s = mqtt.MqttSettings(port=broker.free_port())
    assert mqtt.resolve_protocol(s).protocol == 5


# ---------------------------------------------------------------------- the sink protocol
class RecordingSink:
    """A sink that records what the writer hands it and holds rows back while told to."""

    def __init__(self):
        self.calls = []
        self.hold = 0

    def on_commit(self, cursor, rows):
        self.calls.append((cursor, rows.copy()))

    def pending(self):
        return self.hold


def test_ingester_hands_committed_rows_to_its_sink(linli):
    """The writer gives the sink every committed row once, with its own cursor; it waits for it."""
    import duckdb
    import pandas as pd

    from connectors import broker
    from engine import clock

    linli.execute(
        "INSERT INTO devices VALUES ('CAB-1', 'cabinet', 'chilled', 1, NULL, 11, 28.2, 112.9, 60)"
    )
    sink = RecordingSink()
    assert isinstance(sink, mqtt.Sink)
    settings = mqtt.MqttSettings(port=broker.free_port(), protocol=4)  # nobody listens
    ing = mqtt.Ingester(linli, settings, sink=sink, flush_s=0.01).start()
    now = clock.local_now()
    msgs = [
        (TOPIC, json.dumps({**GOOD, "ts": now.isoformat(), "msg_id": f"s{i}"}).encode(), i + 1)
        for i in range(5)
    ]
    try:
        sink.hold = 1
        ing._on_batch(0, [*msgs, (TOPIC, b"{not json", 9), msgs[0]])  # as a receiver does
        assert not ing.wait_idle(0.6)  # the sink still holds a row back
        sink.hold = 0
        assert ing.wait_idle(5)
    finally:
        ing.stop()
    handed = pd.concat([rows for _, rows in sink.calls], ignore_index=True)
    assert list(handed.columns) == mqtt.SINK_COLUMNS
    stored = linli.execute("SELECT msg_id, received_at FROM telemetry ORDER BY msg_id").df()
    assert len(handed) == len(stored) == 5  # not the bad message, not the redelivery
    assert set(handed["received_at"]) == set(stored["received_at"])
    assert all(isinstance(cur, duckdb.DuckDBPyConnection) for cur, _ in sink.calls)
    assert any(rows.empty for _, rows in sink.calls)  # idle calls: the sink's offline checks
