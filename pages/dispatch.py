"""配送调度 Dispatch: tomorrow's routes per warehouse, map, ETAs, pick lists, what-ifs."""

from __future__ import annotations

import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard import columns, db, dispatch, gaps, maps
from dashboard import components as ui
from dashboard.i18n import t

version = db.data_version()
f = ui.page_header("page_dispatch")
whs = dispatch.warehouses(version, f.regions)
if whs.empty:
    ui.stop_note("dp_no_warehouse")
c1, c2, c3, c4 = st.columns([1, 2, 1, 1])
day_date = c1.date_input(t("dp_date"), value=dispatch.default_date(version), key="dp_date")
names = dict(zip(whs["warehouse_id"], whs["name"], strict=True))
wh = c2.selectbox(t("dp_warehouse"), list(names), format_func=names.get, key="dp_wh")
solver = c3.selectbox(t("dp_solver"), ["pyvrp", "ortools"], key="dp_solver")
limit = c4.slider(t("dp_time_limit"), 1, 15, 3, key="dp_limit")

base = dispatch.fleet(version, wh)
with st.expander(t("dp_whatif")):
    st.caption(t("dp_fleet_help"))
    editable = base.assign(use=True)[
        ["use", "vehicle_id", "plate", "capacity_kg", "capacity_m3", "refrigerated"]
    ]
    edited = st.data_editor(
        editable,
        key=f"dp_fleet_{wh}",
        hide_index=True,
        num_rows="dynamic",
        disabled=["vehicle_id"],
        column_config=columns.config("dispatch", editable),
    )
    # Options are display labels (AppTest re-applies format_func to chosen labels).
    pts = dispatch.pickups(version, wh)
    pt_ids = {f"{n} (#{i})": int(i) for i, n in zip(pts["pickup_id"], pts["name"], strict=True)}
    p1, p2 = st.columns(2)
    no_pin = t("dp_pin_none")
    pin_label = p1.selectbox(t("dp_pin_pickup"), [no_pin, *pt_ids], key=f"dp_pin_p_{wh}")
vehicles = dispatch.apply_fleet_edits(base, edited)
if vehicles.empty:
    gaps.stop(version, "dispatch")
    ui.stop_note("av_no_vehicle_selected")  # every van switched off in the what-if
pins: tuple[tuple[int, int], ...] = ()
if pin_label != no_pin and len(vehicles):
    van_ids = {
        f"{p} (#{v})": int(v)
        for v, p in zip(vehicles["vehicle_id"], vehicles["plate"], strict=True)
    }
    van_label = p2.selectbox(t("dp_pin_vehicle"), list(van_ids), key=f"dp_pin_v_{wh}")
    pins = ((pt_ids[pin_label], van_ids[van_label]),)

with st.spinner(t("dp_solving")):
    day = dispatch.plan(version, day_date, wh, solver, float(limit), vehicles, pins)
st.caption(
    t("dp_caption", order_date=day.order_date.isoformat(), delivery_date=day_date.isoformat())
)
if day.stops.empty:
    ui.stop_note("dp_empty")

r = day.routes
ui.kpi_row(
    [
        (t("dp_kpi_vehicles"), f"{len(r)} / {len(vehicles)}", None, True),
        ui.card("dp_kpi_stops", len(day.route_stops)),
        (t("dp_kpi_km"), f"{r['km'].sum():,.1f} km", None, False),
        ui.card("dp_kpi_load", r["load_pct"].mean() if len(r) else None, "pct"),
        ui.card("dp_kpi_cost", r["cost_yuan"].sum(), "money", good_up=False),
        ui.card("dp_kpi_dropped", len(day.dropped), good_up=False),
    ],
    per_row=6,
)

st.subheader(t("dp_map"))
paths, stops, depots = dispatch.map_data(day)
route_layer = pdk.Layer(
    "PathLayer", paths, get_path="path", get_color="color", width_min_pixels=3, pickable=True
)
layers = [route_layer, maps.scatter(stops, 120, "color", get_position=["lon", "lat"])]
layers.append(maps.scatter(depots, 300, [20, 20, 20], get_position=["lon", "lat"]))
lat = pd.concat([stops["lat"], depots["lat"]]).mean()
lon = pd.concat([stops["lon"], depots["lon"]]).mean()
maps.show(layers, lat, lon, zoom=11, tooltip="{plate} {name} {eta}", key="dp_map")

st.subheader(t("dp_routes"))
ui.table(dispatch.routes_table(day), "dispatch")
st.subheader(t("dp_stops"))
visits = dispatch.stops_table(day)
ui.table(visits, "dispatch", download=f"linli_stops_{day_date}", key="dp_stops")
if not day.dropped.empty:
    st.subheader(t("dp_dropped"))
    ui.table(dispatch.dropped_table(day), "dispatch")

with st.expander(t("dp_manual")):
    plates = dict(zip(r["vehicle_id"], r["plate"], strict=True))
    vid = st.selectbox(t("dp_manual_vehicle"), list(plates), format_func=plates.get, key="dp_mv")
    own = day.route_stops[day.route_stops["vehicle_id"] == vid]
    labels = dict(zip(own["stop_key"], own["name"] + " · " + own["temp"].map(
        lambda x: t("dp_temp_" + x)), strict=True))  # fmt: skip
    order = st.multiselect(
        t("dp_manual_order"), list(labels), default=list(labels), format_func=labels.get,
        key=f"dp_order_{vid}",
    )  # fmt: skip
    if order:
        m = dispatch.manual_cost(day, vid, order)
        planned = r[r["vehicle_id"] == vid].iloc[0]
        st.info(
            t(
                "dp_manual_result",
                km=m["km"],
                cost=m["cost_yuan"],
                late=m["late_stops"],
                pkm=planned["km"],
                pcost=planned["cost_yuan"],
                delta=m["km"] - planned["km"],
            )
        )

st.subheader(t("dp_loading"))
loading = dispatch.loading_table(day)
ui.table(loading, "dispatch", download=f"linli_loading_{day_date}", key="dp_loading")
st.subheader(t("dp_picking"))
picking = dispatch.picking_table(day)
ui.table(picking, "dispatch", download=f"linli_picking_{day_date}", key="dp_picking")

d1, d2, _ = st.columns([1, 1, 2])
html, xlsx = dispatch.printable_html(day), dispatch.workbook(day)
ui.download("dp_print", html, f"linli_dispatch_{day_date}.html", "dp_html", ":material/print:", d1)
ui.download(
    "dp_workbook", xlsx, f"linli_dispatch_{day_date}.xlsx", "dp_xlsx", ":material/table:", d2
)
