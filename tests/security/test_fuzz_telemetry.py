"""Property-based fuzzing of the telemetry parser and writer: only RejectedError, nothing partial.

10,000 hostile messages (profile ``security``, tests/security/profile.py) each go through
``parse_message``: it returns a row inside every documented limit or raises exactly
``RejectedError``. All of them then go through the ingester's writer in batches of 500: every
message ends up exactly once in ``telemetry``, in ``telemetry_quarantine`` or among the
duplicates, and nothing stored breaks a limit.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connectors import mqtt
from connectors.mqtt import payload
from engine import limits
from tests.security.profile import FUZZ

NOW = datetime(2026, 7, 1, 12, 0, 0)
DEVICES = {"CAB-1": 1, "CAB-2": 2, "TRK-0003": 1}
FIELDS = ["device_id", "ts", "temp_c", "humidity", "door_open", "battery", "lat", "lon", "msg_id"]

# Generation, not parsing, dominates a fuzzer's time (about 1 ms per draw on a loaded
# machine), so each example is a few draws from pools of hostile pieces built once here.
BIG = ["9" * n for n in (20, 33, 400, 4300, 4301)]
NUMBERS = [
    0, -0.0, 1, -1, 2.5, 69.9, 70.0, 70.1, -60.0, -60.1, 100, 100.5, 90, 180, -181,
    1e308, -1e308, 5e-324, 2**63, -(2**63), 1e11, 1e13, 10**40, -(10**40),
    float("nan"), float("inf"), float("-inf"),
]  # fmt: skip
STAMPS = [
    NOW.isoformat(), (NOW - timedelta(days=30)).isoformat(), (NOW - timedelta(days=32)).isoformat(),
    (NOW + timedelta(seconds=299)).isoformat(), (NOW + timedelta(seconds=301)).isoformat(),
    "2026-07-01T11:59:00+08:00", "2026-07-01T03:59:00Z", "2026-07-01T11:59:00-14:00",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59",
    "1900-01-01", "1970-01-01T00:00:00", "2026-02-30T00:00:00", "2026-07-01T25:00", "", "Z",
    "2026-07-01T11:59:00" + "0" * 40, NOW.timestamp(), NOW.timestamp() * 1000, 0, -2208988800,
    1e20, -1e20,
]  # fmt: skip
TEXTS = [
    *DEVICES, "", " ", "CAB-1 ", "cab-1", "CAB-1\x00", "\ud800", "\u202e", "D" * 64, "D" * 65,
    "m" * 128, "m" * 129, "../../etc", "+", "#", "CAB/1", "'; DROP TABLE telemetry; --", "雪柜",
]  # fmt: skip
NESTED = [[], {}, [[1]], [[[[[1]]]]], {"a": {"b": {"c": {"d": 1}}}}, [None], {"x": NOW.isoformat()}]
ANY = [None, True, False, *NUMBERS, *STAMPS, *TEXTS, *NESTED]
FIELDS = ["device_id", "ts", "temp_c", "humidity", "door_open", "battery", "lat", "lon", "msg_id"]
BASE = {"device_id": "CAB-1", "ts": NOW.isoformat(), "temp_c": 2.5, "msg_id": "m1"}
ABSENT = object()
TOPICS = [
    *(f"linli/{wh}/{dev}/telemetry" for dev, wh in DEVICES.items()),
    "linli/9/CAB-1/telemetry", "linli/../CAB-1/telemetry", "linli/1/CAB-1/status",
    "linli/+/CAB-1/telemetry", "CAB-1/telemetry", "", "linli/1/x/CAB-1/telemetry",
    "linli/" + "1" * 100 + "/CAB-1/telemetry",
]  # fmt: skip


def encode(obj: object) -> bytes:
    """JSON bytes, NaN and Infinity included (as some devices send them)."""
    return json.dumps(obj, allow_nan=True).encode("utf-8", "surrogatepass")


def raw_number(data: bytes, key: str, digits: str) -> bytes:
    """Replace ``key``'s value by a raw JSON number (json.dumps cannot write 4,301 digits)."""
    obj = json.loads(data)
    obj.pop(key, None)
    return data[:1] + f'"{key}": {digits}, '.encode() + encode(obj)[1:]


def wrap(kind: int, data: bytes, n: int) -> bytes:
    """One of the byte-level attacks on an encoded message."""
    if kind == 0:
        return data
    if kind == 1:  # nested n levels deep
        return b"[" * n * 50 + data + b"]" * n * 50
    if kind == 2:  # padded towards and past the size limit
        return data[:-1] + b', "pad": "' + b"x" * n * 700 + b'"}'
    if kind == 3:  # truncated
        return data[: n % max(len(data), 1)]
    if kind == 4:  # a raw number of many digits
        return raw_number(data, FIELDS[n % len(FIELDS)], BIG[n % len(BIG)])
    if kind == 5:  # not UTF-8
        return data.replace(b"C", b"\xff", 1)
    return data + b" " * n * 1000  # trailing whitespace, valid JSON


SETS = [(f, v) for f in FIELDS for v in [*ANY, ABSENT]]
ATTACKS = [(kind, n, topic) for kind in range(7) for n in range(41) for topic in TOPICS]
messages = st.tuples(st.sampled_from(SETS), st.sampled_from(SETS), st.sampled_from(ATTACKS))


def build(f1: str, v1: object, f2: str, v2: object, kind: int, n: int) -> bytes:
    """BASE with two fields set (or removed), encoded, then attacked at the byte level."""
    obj = dict(BASE)
    for f, v in ((f1, v1), (f2, v2)):
        if v is ABSENT:
            obj.pop(f, None)
        else:
            obj[f] = v
    return wrap(kind, encode(obj), n)


def check_row(topic: str, row: tuple) -> None:
    """An accepted row is inside every documented limit."""
    device, ts, temp, humidity, door, battery, lat, lon, mid = row
    assert topic.split("/")[-2] == device and device in DEVICES
    assert str(DEVICES[device]) == topic.split("/")[-3]
    assert NOW - timedelta(days=limits.TELEMETRY_MAX_AGE_DAYS) <= ts
    assert ts <= NOW + timedelta(seconds=limits.TELEMETRY_MAX_FUTURE_S)
    assert limits.TELEMETRY_TEMP_C[0] <= temp <= limits.TELEMETRY_TEMP_C[1]
    for v, (lo, hi) in [
        (humidity, limits.TELEMETRY_PERCENT),
        (battery, limits.TELEMETRY_PERCENT),
        (lat, limits.LATITUDE),
        (lon, limits.LONGITUDE),
    ]:
        assert v is None or (math.isfinite(v) and lo <= v <= hi)
    assert door in (None, True, False)
    assert mid is None or (isinstance(mid, str) and len(mid) <= limits.TELEMETRY_MAX_MSG_ID_CHARS)
    assert mid is None or mid.encode("utf-8")  # storable: no lone surrogates


def test_fuzz_telemetry_parser_and_writer(linli, monkeypatch):
    """10,000 hostile messages: a row within limits or RejectedError; each stored or quarantined once."""
    seen: list[tuple[str, bytes]] = []
    outcome = {"accepted": 0, "rejected": 0}

    @FUZZ
    @given(messages)
    def parse_one(recipe: tuple) -> None:
        (f1, v1), (f2, v2), (kind, n, topic) = recipe
        data = build(f1, v1, f2, v2, kind, n)
        try:
            row = payload.parse_message(topic, data, DEVICES, NOW)
        except payload.RejectedError as exc:
            assert type(exc) is payload.RejectedError and ":" in str(exc)
            outcome["rejected"] += 1
        else:
            check_row(topic, row)
            outcome["accepted"] += 1
        seen.append((topic, data))

    parse_one()
    assert len(seen) >= FUZZ.max_examples and outcome["rejected"] > 0
    assert outcome["accepted"] > 0  # the generators also reach valid messages

    # Everything again through the writer, with the clock the fuzzer used.
    for dev, wh in DEVICES.items():
        linli.execute(
            "INSERT INTO devices VALUES (?, 'cabinet', 'chilled', ?, NULL, NULL, 28.2, 112.9, 60)",
            [dev, wh],
        )
    ing = mqtt.Ingester(linli, mqtt.MqttSettings(port=1))
    ing._known = DEVICES
    monkeypatch.setattr(mqtt.ingester.clock, "local_now", lambda: NOW)
    cur = linli.cursor()
    for k in range(0, len(seen), 500):
        ing._write(cur, [(t, d, i) for i, (t, d) in enumerate(seen[k : k + 500])])
    status = ing.status()
    stored, quarantined = (
        linli.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("telemetry", "telemetry_quarantine")
    )
    assert status.received == len(seen)
    assert stored == status.inserted and quarantined == status.quarantined
    assert stored + quarantined + status.duplicates == len(seen)
    assert quarantined == outcome["rejected"]
    bad = linli.execute(
        "SELECT count(*) FROM telemetry WHERE NOT (temp_c BETWEEN ? AND ?) OR ts < ?",
        [*limits.TELEMETRY_TEMP_C, NOW - timedelta(days=limits.TELEMETRY_MAX_AGE_DAYS)],
    ).fetchone()[0]
    assert bad == 0
