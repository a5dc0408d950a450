"""Cold-chain alarms: excursions with hold and hysteresis, door, offline, battery; and MKT.

The alarm logic is a small state machine per device (:class:`AlarmTracker`) that consumes
readings in time order, under the setpoints and timings of
:class:`engine.coldchain.setpoints.AlarmSettings`. The same tracker serves history
(:func:`excursions`, a pure function on a telemetry frame) and live evaluation
(:class:`engine.coldchain.live.AlarmEngine`, which evaluates newly stored telemetry rows and
inserts or updates rows of ``alerts``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from engine.coldchain.setpoints import AlarmSettings

_EPOCH = pd.Timestamp("1970-01-01")
KINDS = ("high_temp", "low_temp", "door_open", "offline", "low_battery")
EPISODE_COLUMNS = [
    "alert_id",
    "device_id",
    "kind",
    "severity",
    "started_at",
    "raised_at",
    "cleared_at",
    "peak_c",
    "degree_minutes",
    "duration_s",
]


@dataclass
class _Episode:
    alert_id: int
    device_id: str
    kind: str
    severity: str
    started_at: float
    raised_at: float
    cleared_at: float | None = None
    peak_c: float | None = None
    degree_minutes: float | None = None
    last_at: float = 0.0

    def record(self) -> dict[str, Any]:
        end = self.cleared_at if self.cleared_at is not None else self.last_at
        return {
            "alert_id": self.alert_id,
            "device_id": self.device_id,
            "kind": self.kind,
            "severity": self.severity,
            "started_at": self.started_at,
            "raised_at": self.raised_at,
            "cleared_at": self.cleared_at,
            "peak_c": self.peak_c,
            "degree_minutes": self.degree_minutes,
            "duration_s": max(end - self.started_at, 0.0),
        }


@dataclass
class _DeviceState:
    device_id: str
    kind: str
    low: float
    high: float
    interval_s: float
    last_ts: float | None = None
    last_received: float | None = None  # wall time the last message arrived (live only)
    last_temp: float = math.nan
    # pending (not yet raised) excursion per direction: start, peak, degree-minutes
    pending: dict[str, list[float]] = field(default_factory=dict)
    clear_since: dict[str, float] = field(default_factory=dict)
    door_since: float | None = None
    active: dict[str, _Episode] = field(default_factory=dict)


def epoch_seconds(value: Any) -> float:
    """Seconds since 1970-01-01 of a naive local timestamp (arithmetic only, no zone).

    Parameters
    ----------
    value
        Anything :class:`pandas.Timestamp` accepts.

    Returns
    -------
    float
        Seconds.
    """
    return (pd.Timestamp(value) - _EPOCH) / pd.Timedelta(seconds=1)


def _from_ts(seconds: float | None) -> pd.Timestamp | None:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    return pd.Timestamp(round(seconds * 1e6), unit="us")


class AlarmTracker:
    """Per-device alarm state machines; feed readings in time order, collect episodes.

    Parameters
    ----------
    devices
        Frame with ``device_id, kind, storage, interval_s``.
    settings
        Alarm settings; defaults when ``None``.
    next_id
        First ``alert_id`` to hand out.
    """

    def __init__(
        self, devices: pd.DataFrame, settings: AlarmSettings | None = None, next_id: int = 1
    ) -> None:
        missing = {"device_id", "kind", "storage", "interval_s"} - set(devices.columns)
        if missing:
            raise ValueError(f"devices frame lacks columns: {', '.join(sorted(missing))}")
        self.settings = settings or AlarmSettings()
        self.next_id = int(next_id)
        self.states: dict[str, _DeviceState] = {}
        for row in devices.itertuples(index=False):
            low, high = self.settings.setpoint(str(row.storage))
            self.states[str(row.device_id)] = _DeviceState(
                str(row.device_id), str(row.kind), low, high, float(row.interval_s)
            )
        self.changed: dict[int, _Episode] = {}
        self.closed: list[_Episode] = []

    # -------------------------------------------------------------- episode bookkeeping
    def _raise(
        self, st: _DeviceState, kind: str, severity: str, start: float, now: float
    ) -> _Episode:
        ep = _Episode(self.next_id, st.device_id, kind, severity, start, now, last_at=now)
        self.next_id += 1
        st.active[kind] = ep
        self.changed[ep.alert_id] = ep
        return ep

    def _clear(self, st: _DeviceState, kind: str, at: float) -> None:
        ep = st.active.pop(kind)
        ep.cleared_at = at
        ep.last_at = max(ep.last_at, at)
        self.changed[ep.alert_id] = ep
        self.closed.append(ep)

    def adopt(self, alerts: pd.DataFrame) -> None:
        """Continue open alarms found in the database (after a restart).

        Parameters
        ----------
        alerts
            Rows of ``alerts`` with ``cleared_at`` null.
        """
        for r in alerts.itertuples(index=False):
            st = self.states.get(str(r.device_id))
            if st is None or r.kind not in KINDS:
                continue
            raised = getattr(r, "raised_at", None)
            ep = _Episode(
                int(r.alert_id),
                st.device_id,
                str(r.kind),
                str(r.severity),
                epoch_seconds(r.started_at),
                epoch_seconds(
                    raised if raised is not None and not pd.isna(raised) else r.started_at
                ),
                peak_c=None if pd.isna(r.peak_c) else float(r.peak_c),
                degree_minutes=None if pd.isna(r.degree_minutes) else float(r.degree_minutes),
            )
            ep.last_at = ep.raised_at
            st.active[ep.kind] = ep
            if ep.kind in ("high_temp", "low_temp"):
                st.pending[ep.kind] = [
                    ep.started_at,
                    ep.peak_c or math.nan,
                    ep.degree_minutes or 0.0,
                ]
            self.next_id = max(self.next_id, ep.alert_id + 1)

    # -------------------------------------------------------------- readings
    def feed(
        self,
        device_id: str,
        ts: np.ndarray,
        temp: np.ndarray,
        door: np.ndarray,
        battery: np.ndarray,
    ) -> None:
        """Consume one device's readings (ascending ``ts`` in epoch seconds).

        Parameters
        ----------
        device_id
            A known device.
        ts, temp, door, battery
            Equal-length arrays; NaN for a missing temperature or battery, door as 0/1/NaN.

        Raises
        ------
        KeyError
            For an unknown device.
        """
        st = self.states[device_id]
        s = self.settings
        if st.last_ts is not None:
            keep = ts > st.last_ts  # late or repeated readings do not move the state back
            ts, temp, door, battery = ts[keep], temp[keep], door[keep], battery[keep]
        if len(ts) == 0:
            return
        # Fast path: nothing pending or active and every reading is unremarkable.
        quiet = (
            not st.active
            and not st.pending
            and st.door_since is None
            and not np.any(temp > st.high)
            and not np.any(temp < st.low)
            and not np.any(door > 0)
            and not np.any(battery < s.battery_low)
        )
        offline_gap = s.offline_intervals * st.interval_s
        if quiet:
            gaps = np.diff(ts, prepend=st.last_ts if st.last_ts is not None else ts[0])
            if not np.any(gaps > offline_gap):
                st.last_ts = float(ts[-1])
                st.last_temp = float(temp[-1])
                return
        door_max = s.door_max_truck_s if st.kind == "truck" else s.door_max_s
        for t, temp_c, d, bat in zip(
            ts.tolist(), temp.tolist(), door.tolist(), battery.tolist(), strict=True
        ):
            prev = st.last_ts
            # Silences longer than offline_max_age_s (data sets stitched together, a device
            # put back into service) are not alarms, as in check_offline.
            if prev is not None and offline_gap < t - prev <= s.offline_max_age_s:
                ep = st.active.get("offline")
                if ep is None:
                    ep = self._raise(st, "offline", "warning", prev, prev + offline_gap)
                self._clear(st, "offline", t)
            self._temperature(st, t, temp_c, prev)
            if d == d:  # not NaN
                if d > 0:
                    if st.door_since is None:
                        st.door_since = t
                    open_s = t - st.door_since
                    ep = st.active.get("door_open")
                    if ep is None and open_s >= door_max:
                        ep = self._raise(st, "door_open", "warning", st.door_since, t)
                    if ep is not None:
                        ep.last_at = t
                        if (
                            open_s >= door_max * s.door_critical_factor
                            and ep.severity != "critical"
                        ):
                            ep.severity = "critical"
                            self.changed[ep.alert_id] = ep
                else:
                    st.door_since = None
                    if "door_open" in st.active:
                        self._clear(st, "door_open", t)
            if bat == bat:
                ep = st.active.get("low_battery")
                if ep is None and bat < s.battery_low:
                    ep = self._raise(st, "low_battery", "warning", t, t)
                if ep is not None:
                    ep.peak_c = None
                    if bat < s.battery_critical and ep.severity != "critical":
                        ep.severity = "critical"
                        self.changed[ep.alert_id] = ep
                    if bat >= s.battery_clear:
                        self._clear(st, "low_battery", t)
            st.last_ts = t
            if temp_c == temp_c:
                st.last_temp = temp_c

    def _temperature(self, st: _DeviceState, t: float, temp_c: float, prev: float | None) -> None:
        s = self.settings
        for kind, sign, bound in (("high_temp", 1.0, st.high), ("low_temp", -1.0, st.low)):
            if math.isinf(bound):
                continue
            pend = st.pending.get(kind)
            # Degree-minutes: left-rectangle integral of the excess over the bound.
            if pend is not None and prev is not None and st.last_temp == st.last_temp:
                excess = max(sign * (st.last_temp - bound), 0.0)
                pend[2] += excess * (t - prev) / 60.0
            if temp_c != temp_c:
                continue
            ep = st.active.get(kind)
            outside = sign * (temp_c - bound) > 0
            if outside:
                if pend is None:
                    pend = st.pending[kind] = [t, temp_c, 0.0]
                if pend[1] != pend[1] or sign * (temp_c - pend[1]) > 0:
                    pend[1] = temp_c
                st.clear_since.pop(kind, None)
                if ep is None and t - pend[0] >= s.hold_s:
                    ep = self._raise(st, kind, "warning", pend[0], t)
            elif ep is None:
                st.pending.pop(kind, None)
            elif sign * (bound - temp_c) >= s.hysteresis_c:
                since = st.clear_since.setdefault(kind, t)
                if t - since >= s.clear_hold_s:
                    if pend is not None:
                        self._sync(ep, pend, t)
                    self._clear(st, kind, since)
                    st.pending.pop(kind, None)
                    st.clear_since.pop(kind, None)
                    continue
            else:
                st.clear_since.pop(kind, None)
            if ep is not None and pend is not None:
                self._sync(ep, pend, t)
                peak_excess = sign * (pend[1] - bound)
                long = t - pend[0] >= s.critical_after_s
                if ep.severity != "critical" and (peak_excess >= s.critical_delta_c or long):
                    ep.severity = "critical"

    def _sync(self, ep: _Episode, pend: list[float], t: float) -> None:
        ep.peak_c = float(pend[1])
        ep.degree_minutes = round(float(pend[2]), 4)
        ep.last_at = t
        self.changed[ep.alert_id] = ep

    def check_offline(self, now: float) -> None:
        """Raise ``offline`` for devices silent for ``offline_intervals`` reporting intervals.

        Parameters
        ----------
        now
            Evaluation time, epoch seconds of naive local time.
        """
        s = self.settings
        for st in self.states.values():
            if st.last_ts is None or "offline" in st.active:
                continue
            silent = now - st.last_ts
            # A backlog (messages queued by the broker while the app was away) arrives with
            # old timestamps: judge silence by arrival too, or every replay looks offline.
            if st.last_received is not None:
                silent = min(silent, now - st.last_received)
            if s.offline_intervals * st.interval_s < silent <= s.offline_max_age_s:
                self._raise(st, "offline", "warning", st.last_ts, now)

    def open_episodes(self) -> list[_Episode]:
        """Return the alarms currently raised."""
        return [ep for st in self.states.values() for ep in st.active.values()]

    def take_changes(self) -> pd.DataFrame:
        """Return (and forget) the alarms raised, updated or cleared since the last call."""
        rows = [ep.record() for ep in self.changed.values()]
        self.changed = {}
        return episodes_frame(rows)


def episodes_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Turn episode records into a typed frame with :data:`EPISODE_COLUMNS`.

    Parameters
    ----------
    rows
        Records as produced by the tracker (times in epoch seconds).

    Returns
    -------
    pandas.DataFrame
        Timestamps as ``datetime64[us]``.
    """
    df = pd.DataFrame(rows, columns=EPISODE_COLUMNS)
    for col in ("started_at", "raised_at", "cleared_at"):
        df[col] = pd.to_datetime(
            pd.Series([_from_ts(v) for v in df[col]], dtype=object), errors="coerce"
        ).astype("datetime64[us]")
    for col in ("peak_c", "degree_minutes", "duration_s"):
        df[col] = df[col].astype(float)
    df["alert_id"] = df["alert_id"].astype("int64")
    return df


def feed_frame(tracker: AlarmTracker, telemetry: pd.DataFrame) -> None:
    """Feed a telemetry frame (any order) to a tracker, device by device in time order.

    Parameters
    ----------
    tracker
        The state machines to advance.
    telemetry
        Columns ``device_id, ts, temp_c`` and optionally ``door_open, battery``; rows of
        unknown devices are skipped.
    """
    if telemetry.empty:
        return
    df = telemetry.sort_values(["device_id", "ts"], kind="stable")
    ts = df["ts"].astype("datetime64[us]").astype("int64").to_numpy() / 1e6
    temp = pd.to_numeric(df["temp_c"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    door = (
        df["door_open"].astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        if "door_open" in df
        else np.full(len(df), np.nan)
    )
    battery = (
        pd.to_numeric(df["battery"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "battery" in df
        else np.full(len(df), np.nan)
    )
    ids = df["device_id"].astype(str).to_numpy()
    bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
    for a, b in itertools.pairwise(bounds):
        if ids[a] in tracker.states:
            tracker.feed(ids[a], ts[a:b], temp[a:b], door[a:b], battery[a:b])


def excursions(
    telemetry: pd.DataFrame,
    devices: pd.DataFrame,
    settings: AlarmSettings | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Replay telemetry through the alarm rules and return every alarm episode.

    Parameters
    ----------
    telemetry
        Columns ``device_id, ts, temp_c`` and optionally ``door_open, battery``.
    devices
        Columns ``device_id, kind, storage, interval_s``; readings of other devices are ignored.
    settings
        Alarm settings; defaults when ``None``.
    now
        When given, devices silent since their last reading for longer than the offline
        threshold get an open ``offline`` episode.

    Returns
    -------
    pandas.DataFrame
        One row per episode: ``alert_id, device_id, kind, severity, started_at, raised_at,
        cleared_at`` (NaT while open), ``peak_c, degree_minutes, duration_s``.

    Raises
    ------
    ValueError
        When required columns are missing.
    """
    missing = {"device_id", "ts", "temp_c"} - set(telemetry.columns)
    if missing:
        raise ValueError(f"telemetry frame lacks columns: {', '.join(sorted(missing))}")
    # History sampled coarser than the devices report (e.g. every 5 min) must not look like
    # silences: judge offline against the larger of the interval and the sampling step.
    step = (
        telemetry.sort_values("ts")
        .groupby("device_id")["ts"]
        .apply(lambda t: pd.to_datetime(t).diff().median() / pd.Timedelta(seconds=1))
    )
    devices = devices.copy()
    sampled = devices["device_id"].map(step).astype(float)
    devices["interval_s"] = np.fmax(devices["interval_s"].astype(float), sampled.fillna(0.0))
    tracker = AlarmTracker(devices, settings)
    feed_frame(tracker, telemetry)
    if now is not None:
        tracker.check_offline(epoch_seconds(now))
    episodes = {ep.alert_id: ep for ep in tracker.closed}
    episodes.update({ep.alert_id: ep for ep in tracker.open_episodes()})
    rows = [episodes[k].record() for k in sorted(episodes)]
    return episodes_frame(rows)


def mean_kinetic_temperature(
    telemetry: pd.DataFrame, activation_energy_kj: float = 83.144
) -> pd.DataFrame:
    """Mean kinetic temperature per device and day (USP <1160>, equal-weight samples).

    MKT = (ΔH/R) / -ln(mean(exp(-ΔH/(R·T)))) with T in kelvin; ΔH defaults to 83.144 kJ/mol,
    the value USP and ICH use, so ΔH/R = 10,000 K.

    Parameters
    ----------
    telemetry
        Columns ``device_id, ts, temp_c``; missing temperatures are skipped.
    activation_energy_kj
        ΔH in kJ/mol.

    Returns
    -------
    pandas.DataFrame
        ``device_id, day, n, mean_c, min_c, max_c, mkt_c``.

    Raises
    ------
    ValueError
        When ``activation_energy_kj`` is not positive.
    """
    if activation_energy_kj <= 0:
        raise ValueError("activation_energy_kj must be positive.")
    h_over_r = activation_energy_kj * 1000.0 / 8.314462618
    df = telemetry[["device_id", "ts", "temp_c"]].dropna(subset=["temp_c"]).copy()
    df["day"] = pd.to_datetime(df["ts"]).dt.normalize().dt.date
    kelvin = df["temp_c"].astype(float) + 273.15
    # Shift the exponent by the group's max to avoid underflow (exp(-36) for 0 °C is fine, but
    # this keeps precision for any ΔH).
    df["_x"] = -h_over_r / kelvin
    g = df.groupby(["device_id", "day"], sort=True)
    xmax = g["_x"].transform("max")
    df["_e"] = np.exp(df["_x"] - xmax)
    out = g.agg(
        n=("temp_c", "size"),
        mean_c=("temp_c", "mean"),
        min_c=("temp_c", "min"),
        max_c=("temp_c", "max"),
        _e=("_e", "mean"),
    )
    out["_xmax"] = g["_x"].max()
    out["mkt_c"] = -h_over_r / (np.log(out["_e"]) + out["_xmax"]) - 273.15
    return out.drop(columns=["_e", "_xmax"]).reset_index()
