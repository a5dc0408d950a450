"""The dispatcher's what-ifs on a planned day: an edited fleet, a route driven in another order.

Both answer in the plan's own units, so their figures compare with the solver's.
"""

from __future__ import annotations

import pandas as pd

from engine import routing
from engine.routing import dispatch

# A vehicle added to a warehouse without any: a 06:00-18:00 shift and typical costs.
NEW_VEHICLE = {
    "warehouse_id": 0,
    "shift_start": 360,
    "shift_end": 1080,
    "fixed_cost": 150.0,
    "cost_per_km": 2.0,
}
KG_PER_M3 = 250  # volume of a new vehicle when only its weight capacity is given


def manual_cost(
    day: dispatch.DayPlan, vehicle_id: int, stop_keys: list[str]
) -> dict[str, float | int]:
    """Return distance, cost and late stops of one vehicle driving ``stop_keys`` in that order.

    Stops not in the vehicle's warehouse problem are ignored; the figures compare with the
    planned route's.

    Parameters
    ----------
    day
        A planned day.
    vehicle_id
        The vehicle that drives.
    stop_keys
        Stop keys (``stops.stop_key``) in the order to drive them, in one trip.

    Returns
    -------
    dict
        ``km``, ``cost_yuan`` (fixed plus distance cost), ``late_stops`` (service starting
        after the window closes) and ``return_min`` (minutes after midnight back at the depot).

    Raises
    ------
    ValueError
        When the vehicle is not in the plan.
    """
    for ws in day.solves:
        if vehicle_id not in ws.vehicle_ids:
            continue
        vt = ws.vehicle_ids.index(vehicle_id)
        nodes = [ws.stop_keys.index(k) + 1 for k in stop_keys if k in ws.stop_keys]
        r = routing.schedule(ws.problem, vt, nodes)
        vtype = ws.problem.vehicle_types[vt]
        windows = ws.problem.time_windows
        assert windows is not None  # dispatch problems always carry time windows
        late = sum(s > windows[i][1] for i, s in zip(r.stops, r.starts, strict=True))
        return {
            "km": r.distance / 1000,
            "cost_yuan": (vtype.fixed_cost + vtype.unit_distance_cost * r.distance)
            / dispatch.COST_SCALE,
            "late_stops": int(late),
            "return_min": r.return_time / 60,
        }
    raise ValueError(f"vehicle {vehicle_id} is not in this plan")


def apply_fleet_edits(base: pd.DataFrame, edited: pd.DataFrame) -> pd.DataFrame:
    """Return the fleet after the what-if editor: unticked rows removed, edits and new rows applied.

    Parameters
    ----------
    base
        The warehouse's vehicles (rows of the ``vehicles`` table).
    edited
        The editor's rows: ``use`` (False drops the vehicle), ``vehicle_id`` (missing for a
        new vehicle), ``plate``, ``capacity_kg``, ``capacity_m3`` and ``refrigerated``.
        Rows without a weight capacity are ignored.

    Returns
    -------
    pandas.DataFrame
        Vehicles with the columns and dtypes of ``base``. A new vehicle gets the next free id
        and copies shift and costs from the first vehicle (else :data:`NEW_VEHICLE`); without
        a volume it holds ``capacity_kg / KG_PER_M3`` m³.
    """
    template = base.iloc[0].to_dict() if len(base) else dict(NEW_VEHICLE)
    rows = []
    next_id = int(base["vehicle_id"].max()) + 1 if len(base) else 1
    for k, row in enumerate(edited.to_dict("records")):
        if row.get("use") is False or pd.isna(row.get("capacity_kg")):
            continue
        if pd.isna(row.get("vehicle_id")):
            new = dict(template)
            new["vehicle_id"] = next_id
            next_id += 1
        else:
            new = base[base["vehicle_id"] == row["vehicle_id"]].iloc[0].to_dict()
        plate = row.get("plate")
        # An empty editor cell is None or NaN (pandas' string dtype): either gets a name.
        new["plate"] = plate if isinstance(plate, str) and plate.strip() else f"NEW-{k + 1}"
        new["capacity_kg"] = float(row["capacity_kg"])
        cap_m3 = row.get("capacity_m3")
        new["capacity_m3"] = float(cap_m3) if pd.notna(cap_m3) else new["capacity_kg"] / KG_PER_M3
        new["refrigerated"] = bool(row.get("refrigerated"))
        rows.append(new)
    return pd.DataFrame(rows, columns=base.columns).astype(base.dtypes.to_dict())
