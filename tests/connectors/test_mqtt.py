"""MQTT settings parsing and message validation (no broker needed)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors import mqtt, telemetry_payload

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
