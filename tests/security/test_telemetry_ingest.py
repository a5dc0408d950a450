"""The ingester isolates messages: a bad one goes to quarantine, the rest is stored and acked."""

from __future__ import annotations

import json

import pytest

from connectors import broker, mqtt
from connectors.mqtt import payload
from engine import clock
from tests.security.test_telemetry_parser import HOSTILE

CODES = {
    "too_large",
    "too_deep",
    "too_long",
    "not_json",
    "missing_field",
    "wrong_type",
    "impossible_value",
    "future_timestamp",
    "stale_timestamp",
    "topic_mismatch",
    "unknown_device",
}
WAREHOUSE = {"CAB-1": 1, "CAB-2": 1, "TRK-7": 2}


@pytest.fixture
def devices(linli):
    """Three devices in two warehouses."""
    for dev, wh in WAREHOUSE.items():
        linli.execute(
            "INSERT INTO devices VALUES (?, 'cabinet', 'chilled', ?, NULL, NULL, 28.2, 112.9, 60)",
            [dev, wh],
        )
    return linli


def reading(device: str, msg_id: str | int | None, **extra) -> tuple[str, bytes]:
    """A valid topic and payload of ``device`` stamped now."""
    body = {"device_id": device, "ts": clock.local_now().isoformat(), "temp_c": 3.0, **extra}
    if msg_id is not None:
        body["msg_id"] = msg_id
    return f"linli/{WAREHOUSE[device]}/{device}/telemetry", json.dumps(body).encode()


def run(con, batches, acked=None):
    """Feed batches of (topic, payload) to a network-less ingester; return its status."""
    settings = mqtt.MqttSettings(port=broker.free_port(), protocol=4)  # nobody listens
    ing = mqtt.Ingester(con, settings, flush_s=0.01, ack_after_commit=True).start()
    if acked is not None:
        ing._ack = lambda epoch, mids: acked.extend(mids)
    mid = 0
    try:
        for batch in batches:
            msgs = []
            for topic, data in batch:
                mid += 1
                msgs.append((topic, data, mid))
            ing._on_batch(0, msgs)  # as a receiver hands them over
        assert ing.wait_idle(20)
    finally:
        ing.stop()
    return ing.status()


def counts(con):
    """Rows in telemetry and telemetry_quarantine."""
    return tuple(
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("telemetry", "telemetry_quarantine")
    )


def test_one_batch_of_100_valid_and_every_hostile_message(devices):
    """100 valid + every hostile message in ONE batch: 100 stored, each bad one quarantined, all acked."""
    good = [reading("CAB-1", f"g{i}") for i in range(100)]
    bad = [(topic, data) for _, topic, data, _ in HOSTILE]
    mixed = good[:50] + bad + good[50:]
    acked: list[int] = []
    status = run(devices, [mixed], acked)
    assert counts(devices) == (100, len(bad))
    assert status.inserted == 100 and status.quarantined == len(bad) and status.last_error is None
    assert sorted(acked) == list(range(1, len(mixed) + 1))  # every message acknowledged once
    reasons = [r for (r,) in devices.execute("SELECT reason FROM telemetry_quarantine").fetchall()]
    # HOSTILE is stamped for 2026-07-01; against today's clock some fail on staleness first.
    assert {r.split(":")[0] for r in reasons} <= CODES
    assert {r.split(":")[0] for r in reasons} >= {"too_large", "too_deep", "too_long"}


def test_unexpected_parser_failure_quarantines_only_that_message(devices, monkeypatch):
    """Even a parser bug (any exception) costs one message, not the batch: it is quarantined."""
    real = payload.parse_message

    def flaky(topic, data, *args, **kw):
        if b'"boom"' in data:
            raise OverflowError("a bug nobody anticipated")
        return real(topic, data, *args, **kw)

    monkeypatch.setattr(payload, "parse_message", flaky)
    batch = [reading("CAB-1", f"g{i}") for i in range(100)] + [reading("CAB-1", "boom")]
    acked: list[int] = []
    run(devices, [batch], acked)
    assert counts(devices) == (100, 1)
    reason = devices.execute("SELECT reason FROM telemetry_quarantine").fetchone()[0]
    assert reason.startswith("internal_error:") and "OverflowError" in reason
    assert len(acked) == 101


def test_a_row_the_database_refuses_is_quarantined_alone(devices, monkeypatch):
    """A row the insert refuses (here: a lone surrogate slipped past the parser) is quarantined; the rest land."""
    real = payload.parse_message

    def sneaky(topic, data, *args, **kw):
        row = real(topic, data, *args, **kw)
        return (*row[:8], "\ud800") if row[8] == "evil" else row

    monkeypatch.setattr(payload, "parse_message", sneaky)
    batch = [reading("CAB-1", f"g{i}") for i in range(100)] + [reading("CAB-2", "evil")]
    acked: list[int] = []
    status = run(devices, [batch], acked)
    assert counts(devices) == (100, 1)
    assert status.inserted == 100 and status.quarantined == 1 and len(acked) == 101
    reason = devices.execute("SELECT reason FROM telemetry_quarantine").fetchone()[0]
    assert reason.startswith("refused:") and "surrogate" in reason


def test_duplicates_are_keyed_per_device(devices):
    """Two devices with their own counters keep both readings; a device's redelivery is dropped."""
    first = [reading("CAB-1", i) for i in range(1, 51)] + [
        reading("TRK-7", i) for i in range(1, 51)
    ]
    status = run(devices, [first, [reading("CAB-1", 7), reading("TRK-7", 7)]])
    assert counts(devices) == (100, 0)
    assert status.duplicates == 2
    per_device = dict(
        devices.execute("SELECT device_id, count(*) FROM telemetry GROUP BY 1").fetchall()
    )
    assert per_device == {"CAB-1": 50, "TRK-7": 50}


def test_per_device_keys_survive_a_restart(devices):
    """After a restart the remembered keys are per device too: CAB-2's msg 1 is new, CAB-1's is not."""
    run(devices, [[reading("CAB-1", 1), reading("CAB-1", 2)]])
    status = run(devices, [[reading("CAB-1", 1), reading("CAB-2", 1), reading("TRK-7", 2)]])
    assert status.duplicates == 1
    assert counts(devices) == (4, 0)
