"""Telemetry payloads: validation of one MQTT message into a row of the ``telemetry`` table.

Kept apart from the MQTT client so the rules can be read, tested and reused (file imports,
other transports) on their own. Timestamps become naive wall time in the schema's zone,
:data:`engine.clock.TZ`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from engine import clock, limits

TEMP_RANGE_C = limits.TELEMETRY_TEMP_C
MAX_FUTURE_S = limits.TELEMETRY_MAX_FUTURE_S
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
# The topic's warehouse segment is an id: no "..", wildcards or kilobytes of digits.
_WAREHOUSE = re.compile(rf"[A-Za-z0-9_-]{{1,{limits.TELEMETRY_MAX_ID_CHARS}}}")
# Text fields must be storable (UTF-8) and printable.
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff]*")


# ---------------------------------------------------------------------- validation
class RejectedError(ValueError):
    """A message that goes to quarantine; ``str(exc)`` is the reason."""


def _json_constant(name: str) -> float:
    raise RejectedError(f"impossible_value: {name} is not a number")


# One decoder for every message (json.loads with options builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_json_constant)
_BIG_INT = 10**limits.TELEMETRY_MAX_NUMBER_CHARS


def _check_int(key: str, v: int) -> None:
    # A 400-digit integer would overflow float(); reject it before anything converts it.
    if not -_BIG_INT < v < _BIG_INT:
        raise RejectedError(
            f"too_long: {key} has more than {limits.TELEMETRY_MAX_NUMBER_CHARS} digits"
        )


def _depth(payload: bytes) -> int:
    """Deepest nesting of [ and { outside strings (only called when brackets abound)."""
    depth = deepest = 0
    in_string = escaped = False
    for b in payload:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limits.TELEMETRY_MAX_DEPTH:
                    return deepest
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _decode(payload: bytes) -> Any:
    if len(payload) > limits.TELEMETRY_MAX_BYTES:
        raise RejectedError(
            f"too_large: {len(payload):,} bytes (limit {limits.TELEMETRY_MAX_BYTES:,})"
        )
    brackets = payload.count(b"[") + payload.count(b"{")
    if brackets > limits.TELEMETRY_MAX_DEPTH and _depth(payload) > limits.TELEMETRY_MAX_DEPTH:
        raise RejectedError(f"too_deep: nested deeper than {limits.TELEMETRY_MAX_DEPTH} levels")
    try:
        return _DECODER.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedError(f"not_json: {exc}") from None
    except RejectedError:
        raise
    except ValueError:  # int() refuses more than 4,300 digits
        raise RejectedError("too_long: a number of more than 4,300 digits") from None
    except RecursionError:  # not reached below the depth limit; kept as a last guard
        raise RejectedError("too_deep: nested too deep to read") from None


def _number(obj: dict[str, Any], key: str, required: bool = False) -> float | None:
    if key not in obj or obj[key] is None:
        if required:
            raise RejectedError(f"missing_field: {key}")
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RejectedError(f"wrong_type: {key} must be a number, got {type(v).__name__}")
    if isinstance(v, int):
        _check_int(key, v)
    v = float(v)
    if not math.isfinite(v):
        raise RejectedError(f"impossible_value: {key}={v}")
    return v


def _timestamp(v: Any) -> datetime:
    if isinstance(v, bool) or v is None:
        raise RejectedError(f"wrong_type: ts must be ISO 8601 text or epoch seconds, got {v!r}")
    if isinstance(v, (int, float)):
        if isinstance(v, int):
            _check_int("ts", v)
        elif not math.isfinite(v):
            raise RejectedError(f"impossible_value: ts={v}")
        seconds = v / 1000.0 if v > 1e11 else float(v)  # epoch milliseconds are common too
        try:
            return datetime.fromtimestamp(seconds, clock.TZ).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise RejectedError(f"impossible_value: ts={v:.6g}") from None
    if not isinstance(v, str):
        raise RejectedError(
            f"wrong_type: ts must be ISO 8601 text or epoch seconds, got {type(v).__name__}"
        )
    if len(v) > limits.TELEMETRY_MAX_TS_CHARS:
        raise RejectedError(
            f"too_long: ts of {len(v)} characters (limit {limits.TELEMETRY_MAX_TS_CHARS})"
        )
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise RejectedError(f"wrong_type: ts {v[:40]!r} is not ISO 8601") from None
    if not dt.tzinfo:
        return dt
    # Zone-aware stamps are converted to the schema's local (Changsha) wall time; at the ends
    # of the calendar (9999-12-31 at -14:00) that leaves datetime's range.
    try:
        return dt.astimezone(clock.TZ).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise RejectedError(f"impossible_value: ts={v!r} is outside the calendar") from None


def _text(obj: dict[str, Any], key: str, limit: int) -> str:
    v = obj[key]
    if len(v) > limit:
        raise RejectedError(f"too_long: {key} of {len(v)} characters (limit {limit})")
    if not _PRINTABLE.fullmatch(v):
        raise RejectedError(f"wrong_type: {key} holds control characters or broken UTF-16")
    return str(v)


def _check_topic(topic: str, device: str, warehouse: object) -> None:
    # linli/<warehouse>/<device>/telemetry; the prefix is the subscription's.
    parts = topic.split("/")
    ok = (
        len(parts) >= 4
        and parts[-1] == "telemetry"
        and parts[-2] == device
        and _WAREHOUSE.fullmatch(parts[-3]) is not None
        and (warehouse is None or parts[-3] == str(warehouse))
    )
    if not ok:
        shown = topic if len(topic) <= 120 else topic[:117] + "..."
        where = f" in warehouse {warehouse}" if warehouse is not None else ""
        raise RejectedError(
            f"topic_mismatch: topic {shown!r} is not for device {device[:64]!r}{where}"
        )


def parse_message(
    topic: str,
    payload: bytes,
    known_devices: Mapping[str, object] | Collection[str] | None,
    now: datetime,
    max_future_s: float = MAX_FUTURE_S,
) -> tuple[Any, ...]:
    """Validate one telemetry message and return its row (without ``received_at``).

    Every bound comes from :mod:`engine.limits` (documented in docs/limits.md).

    Parameters
    ----------
    topic
        ``<prefix>/<warehouse>/<device>/telemetry``; the device segment must match the
        payload's ``device_id`` and the warehouse segment the device's warehouse.
    payload
        UTF-8 JSON object with ``device_id``, ``ts`` (ISO 8601 or epoch seconds), ``temp_c``
        and optional ``humidity``, ``door_open``, ``battery``, ``lat``, ``lon``, ``msg_id``.
    known_devices
        Device ids accepted: a mapping ``{device_id: warehouse_id}`` (the warehouse segment
        of the topic is then checked too) or a collection of ids; ``None`` accepts any.
    now
        Current naive local time (for the future and stale timestamp checks).
    max_future_s
        Largest tolerated clock skew into the future.

    Returns
    -------
    tuple
        Values in the order of :data:`TELEMETRY_COLUMNS` minus ``received_at``.

    Raises
    ------
    RejectedError
        The only exception, with a reason ``code: detail``; codes are ``too_large``,
        ``too_deep``, ``too_long``, ``not_json``, ``missing_field``, ``wrong_type``,
        ``impossible_value``, ``future_timestamp``, ``stale_timestamp``,
        ``topic_mismatch`` and ``unknown_device``.
    """
    obj = _decode(payload)
    if not isinstance(obj, dict):
        raise RejectedError(f"not_json: expected an object, got {type(obj).__name__}")
    for key in ("device_id", "ts", "temp_c"):
        if obj.get(key) is None:
            raise RejectedError(f"missing_field: {key}")
    device = obj["device_id"]
    if not isinstance(device, str) or not device:
        raise RejectedError("wrong_type: device_id must be non-empty text")
    device = _text(obj, "device_id", limits.TELEMETRY_MAX_ID_CHARS)
    ts = _timestamp(obj["ts"])
    temp = _number(obj, "temp_c", required=True)
    humidity = _number(obj, "humidity")
    battery = _number(obj, "battery")
    lat = _number(obj, "lat")
    lon = _number(obj, "lon")
    door = obj.get("door_open")
    if door is not None and not isinstance(door, bool):
        raise RejectedError(f"wrong_type: door_open must be true/false, got {type(door).__name__}")
    msg_id = obj.get("msg_id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (str, int))):
        raise RejectedError("wrong_type: msg_id must be text or an integer")
    mid = None
    if isinstance(msg_id, str):
        mid = _text(obj, "msg_id", limits.TELEMETRY_MAX_MSG_ID_CHARS)
    elif msg_id is not None:
        _check_int("msg_id", msg_id)
        mid = str(msg_id)
    assert temp is not None
    if not TEMP_RANGE_C[0] <= temp <= TEMP_RANGE_C[1]:
        raise RejectedError(f"impossible_value: temp_c={temp:.6g}")
    for key, v, (lo, hi) in (
        ("humidity", humidity, limits.TELEMETRY_PERCENT),
        ("battery", battery, limits.TELEMETRY_PERCENT),
        ("lat", lat, limits.LATITUDE),
        ("lon", lon, limits.LONGITUDE),
    ):
        if v is not None and not lo <= v <= hi:
            raise RejectedError(f"impossible_value: {key}={v:.6g}")
    if ts > now + timedelta(seconds=max_future_s):
        raise RejectedError(f"future_timestamp: ts={ts.isoformat()} is after {now.isoformat()}")
    oldest = now - timedelta(days=limits.TELEMETRY_MAX_AGE_DAYS)
    if ts < oldest or ts.date() < limits.DATE_MIN:
        raise RejectedError(
            f"stale_timestamp: ts={ts.isoformat()} is more than "
            f"{limits.TELEMETRY_MAX_AGE_DAYS} days before {now.isoformat()}"
        )
    warehouse = known_devices.get(device) if isinstance(known_devices, Mapping) else None
    _check_topic(topic, device, warehouse)
    if known_devices is not None and device not in known_devices:
        raise RejectedError(f"unknown_device: {device}")
    return (device, ts, temp, humidity, door, battery, lat, lon, mid)
