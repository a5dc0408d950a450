"""Telemetry payloads: validation of one MQTT message into a row of the ``telemetry`` table.

Kept apart from the MQTT client so the rules can be read, tested and reused (file imports,
other transports) on their own. Timestamps become naive wall time in the schema's zone,
:data:`engine.clock.TZ`.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from engine import clock

TEMP_RANGE_C = (-60.0, 70.0)  # beyond what any cold-chain sensor can report
MAX_FUTURE_S = 300.0
TELEMETRY_COLUMNS = [
    "device_id",
    "ts",
    "temp_c",
    "humidity",
    "door_open",
    "battery",
    "lat",
    "lon",
    "msg_id",
    "received_at",
]


# ---------------------------------------------------------------------- validation
class RejectedError(ValueError):
    """A message that goes to quarantine; ``str(exc)`` is the reason."""


def _number(obj: dict[str, Any], key: str, required: bool = False) -> float | None:
    if key not in obj or obj[key] is None:
        if required:
            raise RejectedError(f"missing_field: {key}")
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise RejectedError(f"wrong_type: {key} must be a number, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v):
        raise RejectedError(f"impossible_value: {key}={v}")
    return v


def _timestamp(v: Any) -> datetime:
    if isinstance(v, bool) or v is None:
        raise RejectedError(f"wrong_type: ts must be ISO 8601 text or epoch seconds, got {v!r}")
    if isinstance(v, int | float):
        seconds = v / 1000.0 if v > 1e11 else float(v)  # epoch milliseconds are common too
        try:
            return datetime.fromtimestamp(seconds, clock.TZ).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise RejectedError(f"impossible_value: ts={v}") from None
    if not isinstance(v, str):
        raise RejectedError(
            f"wrong_type: ts must be ISO 8601 text or epoch seconds, got {type(v).__name__}"
        )
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise RejectedError(f"wrong_type: ts {v[:40]!r} is not ISO 8601") from None
    # Zone-aware stamps are converted to the schema's local (Changsha) wall time.
    return dt.astimezone(clock.TZ).replace(tzinfo=None) if dt.tzinfo else dt


def parse_message(
    topic: str,
    payload: bytes,
    known_devices: set[str] | None,
    now: datetime,
    max_future_s: float = MAX_FUTURE_S,
) -> tuple[Any, ...]:
    """Validate one telemetry message and return its row (without ``received_at``).

    Parameters
    ----------
    topic
        ``.../<device>/telemetry``; the device segment must match the payload's ``device_id``.
    payload
        UTF-8 JSON object with ``device_id``, ``ts`` (ISO 8601 or epoch seconds), ``temp_c``
        and optional ``humidity``, ``door_open``, ``battery``, ``lat``, ``lon``, ``msg_id``.
    known_devices
        Device ids accepted; ``None`` accepts any.
    now
        Current naive local time (for the future-timestamp check).
    max_future_s
        Largest tolerated clock skew into the future.

    Returns
    -------
    tuple
        Values in the order of :data:`TELEMETRY_COLUMNS` minus ``received_at``.

    Raises
    ------
    RejectedError
        With a reason ``code: detail``; codes are ``not_json``, ``missing_field``,
        ``wrong_type``, ``impossible_value``, ``future_timestamp``, ``topic_mismatch`` and
        ``unknown_device``.
    """
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedError(f"not_json: {exc}") from None
    if not isinstance(obj, dict):
        raise RejectedError(f"not_json: expected an object, got {type(obj).__name__}")
    for key in ("device_id", "ts", "temp_c"):
        if obj.get(key) is None:
            raise RejectedError(f"missing_field: {key}")
    device = obj["device_id"]
    if not isinstance(device, str) or not device:
        raise RejectedError("wrong_type: device_id must be non-empty text")
    ts = _timestamp(obj["ts"])
    temp = _number(obj, "temp_c", required=True)
    humidity = _number(obj, "humidity")
    battery = _number(obj, "battery")
    lat = _number(obj, "lat")
    lon = _number(obj, "lon")
    door = obj.get("door_open")
    if door is not None and not isinstance(door, bool):
        raise RejectedError(f"wrong_type: door_open must be true/false, got {door!r}")
    msg_id = obj.get("msg_id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int)):
        raise RejectedError("wrong_type: msg_id must be text or an integer")
    assert temp is not None
    if not TEMP_RANGE_C[0] <= temp <= TEMP_RANGE_C[1]:
        raise RejectedError(f"impossible_value: temp_c={temp}")
    for key, v, lo, hi in (
        ("humidity", humidity, 0, 100),
        ("battery", battery, 0, 100),
        ("lat", lat, -90, 90),
        ("lon", lon, -180, 180),
    ):
        if v is not None and not lo <= v <= hi:
            raise RejectedError(f"impossible_value: {key}={v}")
    if ts > now + timedelta(seconds=max_future_s):
        raise RejectedError(f"future_timestamp: ts={ts.isoformat()} is after {now.isoformat()}")
    parts = topic.split("/")
    if len(parts) < 2 or parts[-2] != device:
        raise RejectedError(f"topic_mismatch: topic {topic!r} is not for device {device!r}")
    if known_devices is not None and device not in known_devices:
        raise RejectedError(f"unknown_device: {device}")
    mid = str(msg_id) if msg_id is not None else None
    return (device, ts, temp, humidity, door, battery, lat, lon, mid)
