"""Alarm rules, excursion statistics and MKT on hand-built alarms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.coldchain import alarms, setpoints

T0 = pd.Timestamp("2026-07-01 08:00:00")
DEVICES = pd.DataFrame(
    {
        "device_id": ["ROOM-C", "ROOM-F", "TRK-1", "CAB-1"],
        "kind": ["room", "room", "truck", "cabinet"],
        "storage": ["chilled", "frozen", "chilled", "chilled"],
        "interval_s": [60, 60, 60, 60],
    }
)


def series(device: str, temps, step_s: int = 60, **extra) -> pd.DataFrame:
    """Readings every step_s seconds starting at T0."""
    n = len(temps)
    df = pd.DataFrame(
        {
            "device_id": device,
            "ts": T0 + pd.to_timedelta(np.arange(n) * step_s, unit="s"),
            "temp_c": np.asarray(temps, dtype=float),
        }
    )
    for k, v in extra.items():
        df[k] = v
    return df


def test_compressor_failure_raises_after_hold_escalates_and_clears_with_hysteresis():
    """A slow rise to 9 °C raises one alarm after the hold, goes critical, clears after recovery."""
    temps = [3.0] * 10 + list(np.linspace(3.0, 9.0, 60)) + [9.0] * 30 + [2.5] * 20
    ep = alarms.excursions(series("ROOM-C", temps), DEVICES)
    assert list(ep["kind"]) == ["high_temp"]
    row = ep.iloc[0]
    first_out = 10 + int(np.argmax(np.linspace(3.0, 9.0, 60) > 4.0))
    assert row["started_at"] == T0 + pd.Timedelta(minutes=first_out)
    assert row["raised_at"] == row["started_at"] + pd.Timedelta(seconds=1200)
    assert row["severity"] == "critical"
    assert row["peak_c"] == pytest.approx(9.0)
    assert row["cleared_at"] == T0 + pd.Timedelta(minutes=100)


def test_hysteresis_keeps_alarm_open_while_hovering_just_inside_range():
    """Back to 3.5 °C (inside 0–4 but within 1 °C hysteresis) does not clear the alarm."""
    temps = [6.0] * 30 + [3.5] * 60
    ep = alarms.excursions(series("ROOM-C", temps), DEVICES)
    assert len(ep) == 1 and pd.isna(ep.iloc[0]["cleared_at"])


def test_clear_needs_clear_hold_time():
    """A dip below the hysteresis band shorter than clear_hold_s does not clear."""
    temps = [6.0] * 30 + [2.0] * 3 + [6.0] * 10 + [2.0] * 10
    ep = alarms.excursions(series("ROOM-C", temps), DEVICES)
    assert len(ep) == 1
    assert ep.iloc[0]["cleared_at"] == T0 + pd.Timedelta(minutes=43)


def test_defrost_shorter_than_hold_raises_nothing():
    """A 15-minute defrost peak at 8 °C stays below the 20-minute hold: no alarm."""
    temps = [2.0] * 30 + [8.0] * 15 + [2.0] * 30
    assert alarms.excursions(series("ROOM-C", temps), DEVICES).empty


def test_degree_minutes_and_duration_of_a_step_excursion():
    """6 °C for 30 minutes on a 0–4 °C room is 2 °C x 30 min = 60 degree-minutes."""
    temps = [3.0] * 5 + [6.0] * 30 + [2.0] * 10
    s = setpoints.AlarmSettings(clear_hold_s=0)
    ep = alarms.excursions(series("ROOM-C", temps), DEVICES, s).iloc[0]
    assert ep["degree_minutes"] == pytest.approx(60.0)
    assert ep["duration_s"] == pytest.approx(1800.0)
    assert ep["severity"] == "warning"


def test_long_mild_excursion_escalates_by_duration():
    """4.5 °C for 2 h is only 0.5 °C over but escalates to critical after critical_after_s."""
    ep = alarms.excursions(series("ROOM-C", [4.5] * 121), DEVICES).iloc[0]
    assert ep["severity"] == "critical"


def test_frozen_has_upper_bound_only():
    """-25 °C is fine for a freezer; -15 °C for 30 min raises a high_temp alarm."""
    assert alarms.excursions(series("ROOM-F", [-25.0] * 60), DEVICES).empty
    ep = alarms.excursions(series("ROOM-F", [-15.0] * 30), DEVICES)
    assert list(ep["kind"]) == ["high_temp"]


def test_chilled_freezing_raises_low_temp():
    """A chilled room at -2 °C for 30 minutes raises low_temp with its (lowest) peak."""
    ep = alarms.excursions(series("ROOM-C", [-1.0] * 10 + [-2.0] * 20), DEVICES).iloc[0]
    assert ep["kind"] == "low_temp" and ep["peak_c"] == pytest.approx(-2.0)


@pytest.mark.parametrize(
    ("device", "open_min", "expected"),
    [("CAB-1", 3, 0), ("CAB-1", 7, 1), ("TRK-1", 7, 0), ("TRK-1", 20, 1)],
)
def test_door_open_too_long(device, open_min, expected):
    """Doors raise an alarm after 5 min (cabinets, rooms) or 15 min (trucks)."""
    door = [False] * 5 + [True] * open_min + [False] * 5
    df = series(device, [2.0] * len(door), door_open=door)
    ep = alarms.excursions(df, DEVICES)
    assert (ep["kind"] == "door_open").sum() == expected


def test_door_open_escalates_and_clears_on_close():
    """A cabinet door open 20 min goes critical (3 x 5 min) and clears when closed."""
    door = [True] * 20 + [False] * 2
    ep = alarms.excursions(series("CAB-1", [2.0] * 22, door_open=door), DEVICES).iloc[0]
    assert ep["severity"] == "critical"
    assert ep["cleared_at"] == T0 + pd.Timedelta(minutes=20)


def test_offline_gap_and_open_offline_at_now():
    """A 10-minute silence (> 3 intervals) is an offline episode; silence until now is open."""
    df = pd.concat(
        [
            series("ROOM-C", [2.0] * 5),
            series("ROOM-C", [2.0] * 5).assign(ts=lambda d: d["ts"] + pd.Timedelta(minutes=14)),
        ]
    )
    ep = alarms.excursions(df, DEVICES)
    assert list(ep["kind"]) == ["offline"]
    assert ep.iloc[0]["started_at"] == T0 + pd.Timedelta(minutes=4)
    assert ep.iloc[0]["cleared_at"] == T0 + pd.Timedelta(minutes=14)
    ep = alarms.excursions(series("ROOM-C", [2.0] * 5), DEVICES, now=T0 + pd.Timedelta(hours=1))
    assert list(ep["kind"]) == ["offline"] and pd.isna(ep.iloc[0]["cleared_at"])


def test_low_battery_with_clear_hysteresis():
    """Battery 15 % raises, 22 % keeps it, 30 % clears; 8 % escalates to critical."""
    bat = [50, 15, 22, 8, 22, 30]
    ep = alarms.excursions(series("ROOM-C", [2.0] * 6, battery=bat), DEVICES).iloc[0]
    assert ep["kind"] == "low_battery" and ep["severity"] == "critical"
    assert ep["cleared_at"] == T0 + pd.Timedelta(minutes=5)


def test_late_readings_are_ignored():
    """Readings older than the last processed one do not move the state machine back."""
    tracker = alarms.AlarmTracker(DEVICES)
    ts = (T0 + pd.to_timedelta(np.arange(30), unit="min")).astype("int64").to_numpy() / 1e6
    tracker.feed("ROOM-C", ts, np.full(30, 6.0), np.full(30, np.nan), np.full(30, np.nan))
    assert len(tracker.open_episodes()) == 1
    tracker.feed("ROOM-C", ts[:5], np.full(5, 2.0), np.full(5, np.nan), np.full(5, np.nan))
    assert len(tracker.open_episodes()) == 1


def test_mkt_constant_and_two_level_reference():
    """MKT of a constant is that constant; of 0 °C and 10 °C halves matches the closed form."""
    df = pd.concat([series("A", [5.0] * 10), series("B", [0.0] * 5 + [10.0] * 5)])
    out = alarms.mean_kinetic_temperature(df).set_index("device_id")
    assert out.loc["A", "mkt_c"] == pytest.approx(5.0)
    h = 83.144e3 / 8.314462618
    ref = h / -math.log((math.exp(-h / 273.15) + math.exp(-h / 283.15)) / 2) - 273.15
    assert out.loc["B", "mkt_c"] == pytest.approx(ref)
    assert out.loc["B", "mkt_c"] > out.loc["B", "mean_c"]


def test_mkt_usp_style_example():
    """Weekly highs/lows 25–30 °C give an MKT slightly above their mean 27.57 °C (≈ 27.70 °C)."""
    temps = [25, 26, 27, 28, 29, 30, 28]
    out = alarms.mean_kinetic_temperature(series("A", temps))
    assert out["mkt_c"].iloc[0] == pytest.approx(27.70, abs=0.01)


def test_settings_validation_and_toml(tmp_path):
    """Bad settings raise ValueError; TOML [alarms] overrides defaults; unknown keys rejected."""
    with pytest.raises(ValueError, match="hold_s"):
        setpoints.AlarmSettings(hold_s=-1)
    with pytest.raises(ValueError, match="low < high"):
        setpoints.AlarmSettings(chilled_low_c=5)
    with pytest.raises(ValueError, match="storage"):
        setpoints.AlarmSettings().setpoint("ambient")
    p = tmp_path / "a.toml"
    p.write_text("[alarms]\nhold_s = 60\nchilled_high_c = 5\n", encoding="utf-8")
    s = setpoints.AlarmSettings.from_toml(p)
    assert s.hold_s == 60 and s.setpoint("chilled") == (0.0, 5.0)
    with pytest.raises(ValueError, match="bogus"):
        setpoints.AlarmSettings.from_dict({"bogus": 1})


def test_missing_columns_raise():
    """Frames without required columns fail with a clear message."""
    with pytest.raises(ValueError, match="temp_c"):
        alarms.excursions(pd.DataFrame({"device_id": [], "ts": []}), DEVICES)
    with pytest.raises(ValueError, match="storage"):
        alarms.AlarmTracker(DEVICES.drop(columns="storage"))
