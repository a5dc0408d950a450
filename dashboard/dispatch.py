"""Cached wrappers for the 配送调度 (dispatch) page around engine.routing.dispatch."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import auth, db
from dashboard.i18n import t
from engine import clock, reference
from engine.auth import Scope
from engine.routing import dispatch, export, lists
from engine.routing import fleet as fleet_edits

# One colour per vehicle on the map (RGB), cycled.
PALETTE = [
    (228, 87, 46),
    (23, 163, 152),
    (59, 110, 165),
    (243, 167, 18),
    (136, 80, 160),
    (41, 51, 92),
    (200, 60, 120),
    (90, 150, 60),
]


@auth.cache_scoped(show_spinner=False)
def warehouses(version: str, regions: tuple[int, ...] = (), *, scope: Scope) -> pd.DataFrame:
    """Warehouses inside the row scope (optionally of some regions) with their fleet size."""
    table = reference.warehouses(db.cursor(), regions, scope)
    return table[["warehouse_id", "name", "region_id", "lat", "lon", "vehicles"]]


@auth.cache_scoped(show_spinner=False)
def fleet(version: str, warehouse_id: int, *, scope: Scope) -> pd.DataFrame:
    """The vehicles of one warehouse inside the row scope (rows of the ``vehicles`` table)."""
    return reference.fleet(db.cursor(), warehouse_id, scope)


@st.cache_data(show_spinner=False)
def default_date(version: str) -> date:
    """The next delivery day: the day after the data's as-of date."""
    return clock.next_delivery_day(db.cursor())


@auth.cache_scoped(show_spinner=False, max_entries=32)
def plan(
    version: str,
    delivery_date: date,
    warehouse_id: int,
    solver: str,
    time_limit_s: float,
    vehicles: pd.DataFrame,
    pins: tuple[tuple[int, int], ...] = (),
    *,
    scope: Scope,
) -> dispatch.DayPlan:
    """Plan one warehouse's delivery day with the given (possibly edited) fleet and pins."""
    settings = dispatch.DispatchSettings(time_limit_s=time_limit_s, solver=solver)
    return dispatch.plan_day(
        db.cursor(),
        delivery_date,
        [warehouse_id],
        settings=settings,
        vehicles=vehicles,
        pins=dict(pins),
        scope=scope,
    )


@auth.cache_scoped(show_spinner=False)
def pickups(version: str, warehouse_id: int, *, scope: Scope) -> pd.DataFrame:
    """Pickup points served by one warehouse, inside the row scope (for the pin what-if)."""
    return reference.pickups(db.cursor(), warehouse_id, scope)


def loading_list(day: dispatch.DayPlan) -> pd.DataFrame:
    """Per-vehicle loading lists (last stop loaded first)."""
    return lists.loading_list(day)


def pick_list(day: dispatch.DayPlan) -> pd.DataFrame:
    """Per pickup point and SKU pick list."""
    return lists.pick_list(day)


def printable_html(day: dispatch.DayPlan) -> bytes:
    """The printable loading lists as an HTML file."""
    return export.to_html(day).encode("utf-8")


def workbook(day: dispatch.DayPlan) -> bytes:
    """All of the day's tables as one Excel workbook."""
    return export.to_excel(day)


def map_data(day: dispatch.DayPlan) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Paths (one per vehicle, coloured), stops and depots for a pydeck map."""
    paths = day.routes[["plate", "path", "km", "stops"]].copy()
    paths["color"] = [list(PALETTE[i % len(PALETTE)]) for i in range(len(paths))]
    colour = dict(zip(paths["plate"], paths["color"], strict=True))
    stops = day.route_stops[["plate", "seq", "name", "lat", "lon", "kg"]].copy()
    stops["color"] = stops["plate"].map(colour)
    stops["eta"] = day.route_stops["eta_min"].map(clock.hhmm)
    depots = pd.DataFrame(
        [
            {"name": f"WH{ws.warehouse_id}", "lat": ws.problem.coords[0][0],
             "lon": ws.problem.coords[0][1]}
            for ws in day.solves
        ],
        columns=["name", "lat", "lon"],
    )  # fmt: skip
    return paths, stops, depots


def manual_cost(
    day: dispatch.DayPlan, vehicle_id: int, stop_keys: list[str]
) -> dict[str, float | int]:
    """Distance, cost and late stops of one vehicle driving ``stop_keys`` in the given order."""
    return fleet_edits.manual_cost(day, vehicle_id, stop_keys)


def apply_fleet_edits(base: pd.DataFrame, edited: pd.DataFrame) -> pd.DataFrame:
    """The fleet after the what-if editor: unticked rows removed, edits and new rows applied."""
    return fleet_edits.apply_fleet_edits(base, edited)


def routes_table(day: dispatch.DayPlan) -> pd.DataFrame:
    """One row per vehicle: stops, km, load, times, cost."""
    out = day.routes.drop(columns=["path", "warehouse_id", "vehicle_id"]).copy()
    out["depart"] = out.pop("depart_min").map(clock.hhmm)
    out["return"] = out.pop("return_min").map(clock.hhmm)
    return out[
        ["plate", "refrigerated", "stops", "trips", "km", "load_kg", "load_pct", "volume_pct",
         "depart", "return", "cost_yuan"]
    ]  # fmt: skip


def stops_table(day: dispatch.DayPlan) -> pd.DataFrame:
    """One row per visit: vehicle, order, pickup point, ETA, window, weight, orders."""
    rs = day.route_stops
    return pd.DataFrame(
        {
            "plate": rs["plate"],
            "seq": rs["seq"],
            "trip": rs["trip"],
            "pickup": rs["name"],
            "temp": rs["temp"].map(lambda x: t("dp_temp_" + x)),
            "eta": rs["eta_min"].map(clock.hhmm),
            "window": rs["window_start"].map(clock.hhmm) + "–" + rs["window_end"].map(clock.hhmm),
            "kg": rs["kg"].round(1),
            "orders": rs["orders"],
        }
    )


def dropped_table(day: dispatch.DayPlan) -> pd.DataFrame:
    """Stops not planned, with a translated reason."""
    d = day.dropped
    return pd.DataFrame(
        {
            "pickup": d["name"],
            "temp": d["temp"].map(lambda x: t("dp_temp_" + x)),
            "kg": d["kg"].round(1),
            "orders": d["orders"],
            "reason": d["code"].map(lambda c: t("dp_drop_" + c)),
        }
    )


def loading_table(day: dispatch.DayPlan) -> pd.DataFrame:
    """Loading lists with translated storage and temperature labels."""
    ll = lists.loading_list(day)
    return pd.DataFrame(
        {
            "plate": ll["plate"],
            "trip": ll["trip"],
            "load_seq": ll["load_seq"],
            "seq": ll["seq"],
            "pickup": ll["name"],
            "sku": ll["sku_name"],
            "storage": ll["storage"].map(lambda x: t("dp_storage_" + x)),
            "qty": ll["qty"],
            "unit": ll["unit"],
            "orders": ll["orders"],
        }
    )


def picking_table(day: dispatch.DayPlan) -> pd.DataFrame:
    """Pick list per pickup point and SKU with the carrying vehicle."""
    pl = lists.pick_list(day)
    return pd.DataFrame(
        {
            "pickup": pl["name"],
            "temp": pl["temp"].map(lambda x: t("dp_temp_" + x)),
            "plate": pl["plate"].fillna("—"),
            "sku": pl["sku_name"],
            "storage": pl["storage"].map(lambda x: t("dp_storage_" + x)),
            "qty": pl["qty"],
            "unit": pl["unit"],
            "orders": pl["orders"],
        }
    )
