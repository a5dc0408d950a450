"""Hostile MQTT payloads and topics: parse_message raises only RejectedError, with a reason."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors.mqtt import payload
from engine import limits

NOW = datetime(2026, 7, 1, 12, 0, 0)
GOOD = {"device_id": "CAB-1", "ts": "2026-07-01T11:59:00", "temp_c": 2.5, "msg_id": "m1"}
TOPIC = "linli/1/CAB-1/telemetry"
DEVICES = {"CAB-1": 1, "CAB-2": 2}  # device -> warehouse


def body(**fields) -> bytes:
    """GOOD with some fields replaced, as JSON bytes."""
    return json.dumps({**GOOD, **fields}).encode()


def raw(fragment: str, key: str = "temp_c") -> bytes:
    """GOOD with ``key`` given as raw JSON text (numbers json.dumps cannot write)."""
    rest = {k: v for k, v in GOOD.items() if k != key}
    return (json.dumps(rest)[:-1] + f', "{key}": {fragment}}}').encode()


BIG = "9" * 400
# (id, topic, payload, reason code): every one is hostile and must be rejected cleanly.
HOSTILE = [
    ("400-digit temp", TOPIC, raw(BIG), "too_long"),
    ("400-digit negative temp", TOPIC, raw("-" + BIG), "too_long"),
    ("400-digit humidity", TOPIC, raw(BIG, "humidity"), "too_long"),
    ("400-digit battery", TOPIC, raw(BIG, "battery"), "too_long"),
    ("400-digit lat", TOPIC, raw(BIG, "lat"), "too_long"),
    ("400-digit float", TOPIC, raw(BIG + ".5"), "impossible_value"),
    ("1e400 temp", TOPIC, raw("1e400"), "impossible_value"),
    ("NaN temp", TOPIC, raw("NaN"), "impossible_value"),
    ("Infinity temp", TOPIC, raw("-Infinity"), "impossible_value"),
    ("400-digit msg_id", TOPIC, raw(BIG, "msg_id"), "too_long"),
    ("4300-digit msg_id", TOPIC, raw("9" * 4300, "msg_id"), "too_long"),
    ("400-digit epoch ts", TOPIC, raw(BIG, "ts"), "too_long"),
    ("4300-digit epoch ts", TOPIC, raw("9" * 4300, "ts"), "too_long"),
    ("4301-digit epoch ts", TOPIC, raw("1" * 4301, "ts"), "too_long"),
    ("4300-digit text ts", TOPIC, body(ts="9" * 4300), "too_long"),
    ("1e308 epoch ts", TOPIC, raw("1e308", "ts"), "impossible_value"),
    ("NaN epoch ts", TOPIC, raw("NaN", "ts"), "impossible_value"),
    ("year 9999 at -14:00", TOPIC, body(ts="9999-12-31T23:59:59-14:00"), "impossible_value"),
    ("year 1 at +14:00", TOPIC, body(ts="0001-01-01T00:00:00+14:00"), "impossible_value"),
    ("year 9999 naive", TOPIC, body(ts="9999-12-31T23:59:59"), "future_timestamp"),
    ("dated 1900", TOPIC, body(ts="1900-01-01T00:00:00"), "stale_timestamp"),
    ("dated 1900 with zone", TOPIC, body(ts="1900-01-01T00:00:00+08:00"), "stale_timestamp"),
    ("dated 1900 as epoch", TOPIC, body(ts=-2208988800), "stale_timestamp"),
    ("epoch zero", TOPIC, body(ts=0), "stale_timestamp"),
    ("a year old", TOPIC, body(ts="2025-07-01T12:00:00"), "stale_timestamp"),
    # 100,000 deep is over the size limit before its depth is looked at; 8,000 is not.
    ("nested 100,000 lists", TOPIC, b"[" * 100_000 + b"]" * 100_000, "too_large"),
    ("nested 100,000 objects", TOPIC, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "too_large"),
    ("nested 8,000 lists", TOPIC, b"[" * 8_000 + b"]" * 8_000, "too_deep"),
    ("nested 2,500 objects", TOPIC, b'{"a":' * 2_500 + b"1" + b"}" * 2_500, "too_deep"),
    ("unclosed 16,000 lists", TOPIC, b"[" * 16_000, "too_deep"),
    ("brackets in strings", TOPIC, body(pad="[" * 8_000, temp_c=999), "impossible_value"),
    ("nested value", TOPIC, raw("[" * 5_000 + "]" * 5_000, "humidity"), "too_deep"),
    ("nested within limit", TOPIC, raw("[[[1]]]", "humidity"), "wrong_type"),
    ("2 MB payload", TOPIC, body(pad="x" * 2_000_000), "too_large"),
    ("2 MB of spaces", TOPIC, body() + b" " * 2_000_000, "too_large"),
    ("2 MB of digits", TOPIC, raw("1" * 2_000_000), "too_large"),
    (
        "long device_id",
        "linli/1/" + "D" * 5000 + "/telemetry",
        body(device_id="D" * 5000),
        "too_long",
    ),
    ("long msg_id", TOPIC, body(msg_id="m" * 5000), "too_long"),
    ("wrong warehouse", "linli/2/CAB-1/telemetry", body(), "topic_mismatch"),
    ("unchecked warehouse", "linli/../CAB-1/telemetry", body(), "topic_mismatch"),
    ("warehouse wildcard", "linli/+/CAB-1/telemetry", body(), "topic_mismatch"),
    ("long warehouse", "linli/" + "1" * 5000 + "/CAB-1/telemetry", body(), "topic_mismatch"),
    ("extra level", "linli/1/x/CAB-1/telemetry", body(), "topic_mismatch"),
    ("no warehouse", "CAB-1/telemetry", body(), "topic_mismatch"),
    ("not telemetry", "linli/1/CAB-1/status", body(), "topic_mismatch"),
    ("lone surrogate", TOPIC, body(device_id="\ud800"), "wrong_type"),
    ("NUL device", TOPIC, body(device_id="CAB-1\x00"), "wrong_type"),
    ("lone surrogate msg_id", TOPIC, body(msg_id="\ud800"), "wrong_type"),
    ("control chars msg_id", TOPIC, body(msg_id="a\x00b"), "wrong_type"),
    ("boolean msg_id", TOPIC, body(msg_id=True), "wrong_type"),
    ("object msg_id", TOPIC, body(msg_id={"a": 1}), "wrong_type"),
]


@pytest.mark.parametrize(
    ("topic", "data", "code"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_message_is_rejected_with_reason(topic, data, code):
    """Each hostile message raises RejectedError (never OverflowError, ValueError, RecursionError)."""
    with pytest.raises(payload.RejectedError) as err:
        payload.parse_message(topic, data, DEVICES, NOW)
    assert type(err.value) is payload.RejectedError
    assert str(err.value).startswith(code + ":"), str(err.value)
    assert len(str(err.value)) < 400  # the reason is readable, not the payload echoed back


def test_good_message_still_parses_at_each_limit():
    """Values right at the documented limits are accepted: the limits are not off by one."""
    lo, hi = limits.TELEMETRY_TEMP_C
    oldest = NOW.replace(day=1) if limits.TELEMETRY_MAX_AGE_DAYS >= 30 else NOW
    msg = body(
        temp_c=lo,
        humidity=100,
        battery=0,
        lat=-90.0,
        lon=180.0,
        ts=oldest.isoformat(),
        msg_id="m" * limits.TELEMETRY_MAX_MSG_ID_CHARS,
    )
    row = payload.parse_message(TOPIC, msg, DEVICES, NOW)
    assert row[1] == oldest and row[2] == lo
    row = payload.parse_message(TOPIC, body(temp_c=hi, msg_id=10**20), DEVICES, NOW)
    assert row[2] == hi and row[8] == str(10**20)
    pad = limits.TELEMETRY_MAX_BYTES - len(body(pad=""))
    assert payload.parse_message(TOPIC, body(pad="x" * pad), DEVICES, NOW)[0] == "CAB-1"


def test_warehouse_is_checked_only_against_known_devices():
    """With a device -> warehouse map the segment must match; without one it must look like an id."""
    assert payload.parse_message("linli/2/CAB-2/telemetry", body(device_id="CAB-2"), DEVICES, NOW)
    assert payload.parse_message("linli/7/CAB-1/telemetry", body(), None, NOW)
    assert payload.parse_message("linli/7/CAB-1/telemetry", body(), {"CAB-1"}, NOW)
    with pytest.raises(payload.RejectedError, match=r"^topic_mismatch"):
        payload.parse_message("linli/../CAB-1/telemetry", body(), None, NOW)
