"""Setpoints and timings of cold-chain alarms, loadable from TOML (``[alarms]``)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AlarmSettings:
    """Setpoints and timing of cold-chain alarms (times in seconds, temperatures in °C).

    A temperature outside its storage range for ``hold_s`` raises an alarm whose start is the
    first out-of-range reading. It clears only after the reading has been back inside the
    range by ``hysteresis_c`` for ``clear_hold_s``. It escalates to critical when it exceeds
    the range by ``critical_delta_c`` or lasts ``critical_after_s``.
    """

    chilled_low_c: float = 0.0
    chilled_high_c: float = 4.0
    frozen_low_c: float = -math.inf
    frozen_high_c: float = -18.0
    hold_s: float = 1200.0
    clear_hold_s: float = 300.0
    hysteresis_c: float = 1.0
    critical_delta_c: float = 3.0
    critical_after_s: float = 3600.0
    door_max_s: float = 300.0
    door_max_truck_s: float = 900.0
    door_critical_factor: float = 3.0
    offline_intervals: int = 3
    offline_max_age_s: float = 86400.0
    battery_low: float = 20.0
    battery_critical: float = 10.0
    battery_clear: float = 25.0
    activation_energy_kj: float = 83.144

    def __post_init__(self) -> None:
        """Reject settings that make the state machine meaningless."""
        for name in ("hold_s", "clear_hold_s", "hysteresis_c", "door_max_s", "door_max_truck_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"AlarmSettings.{name} must be >= 0, got {getattr(self, name)}")
        if self.chilled_low_c >= self.chilled_high_c or self.frozen_low_c >= self.frozen_high_c:
            raise ValueError("AlarmSettings: each storage range needs low < high.")
        if self.offline_intervals < 1:
            raise ValueError("AlarmSettings.offline_intervals must be >= 1.")
        if not self.battery_critical <= self.battery_low <= self.battery_clear:
            raise ValueError(
                "AlarmSettings: need battery_critical <= battery_low <= battery_clear."
            )

    def setpoint(self, storage: str) -> tuple[float, float]:
        """Return the allowed ``(low, high)`` range in °C for a storage class.

        Parameters
        ----------
        storage
            ``chilled`` or ``frozen``.

        Returns
        -------
        tuple of float
            Inclusive bounds; ``-inf`` means no lower bound.

        Raises
        ------
        ValueError
            For an unknown storage class.
        """
        if storage == "chilled":
            return self.chilled_low_c, self.chilled_high_c
        if storage == "frozen":
            return self.frozen_low_c, self.frozen_high_c
        raise ValueError(f"Unknown storage class {storage!r}; expected 'chilled' or 'frozen'.")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AlarmSettings:
        """Build settings from a mapping, rejecting unknown keys.

        Parameters
        ----------
        values
            Field names to values.

        Returns
        -------
        AlarmSettings
            Defaults overridden by ``values``.

        Raises
        ------
        ValueError
            When a key is not a setting.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown alarm settings: {', '.join(unknown)}")
        typed: dict[str, Any] = {
            k: int(v) if k == "offline_intervals" else float(v) for k, v in values.items()
        }
        return replace(cls(), **typed)

    @classmethod
    def from_toml(cls, path: str | Path) -> AlarmSettings:
        """Load settings from the ``[alarms]`` table of a TOML file (or its top level).

        Parameters
        ----------
        path
            The TOML file.

        Returns
        -------
        AlarmSettings
            The loaded settings.
        """
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(data.get("alarms", data))
