"""pydeck maps that render offline: no basemap, points, paths and H3 cells in the house style.

Every map draws the optional service-area outlines (connectors/geojson.py) underneath.
"""

from __future__ import annotations

import json

import pydeck as pdk
import streamlit as st

from dashboard import db
from engine import reference


def scatter(data, radius, colour, **kwargs) -> pdk.Layer:
    """Points at ``[lon, lat]`` (or ``get_position``), pickable for the tooltip."""
    kwargs.setdefault("get_position", "[lon, lat]")
    return pdk.Layer(
        "ScatterplotLayer", data, get_radius=radius, get_fill_color=colour, pickable=True, **kwargs
    )


def density(hexes, pickups, warehouses, centre, *, tooltip: str, key: str) -> None:
    """Orders on H3 cells (shaded by ``orders``), pickup points and warehouses.

    Rows with ``selected`` true (the chosen communities) are drawn stronger.
    """
    layers = [
        pdk.Layer(
            "H3HexagonLayer",
            hexes.assign(weight=hexes["orders"] / max(hexes["orders"].max(), 1)),
            id="cp_hex",
            get_hexagon="hex",
            get_fill_color="[228, 87, 46, 60 + 195 * weight]",
            get_line_color="[30, 30, 30, selected ? 255 : 40]",
            line_width_min_pixels=1,
            extruded=False,
            pickable=True,
        ),
        scatter(
            pickups,
            60,
            "[23, 163, 152, selected ? 255 : 120]",
            id="cp_pickups",
            radius_min_pixels=3,
        ),
        scatter(warehouses, 180, "[44, 62, 80, 230]", id="cp_warehouses", radius_min_pixels=6),
    ]
    show(layers, centre[0], centre[1], zoom=11, tooltip=tooltip, key=key)


@st.cache_data(show_spinner=False)
def boundaries(version: str) -> dict | None:
    """The loaded service areas as one FeatureCollection, or ``None`` when none are loaded."""
    areas = reference.service_areas(db.cursor())
    if areas.empty:
        return None
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(a.geometry_json),
            "properties": {"area_id": a.area_id, "name": a.name or a.area_id},
        }
        for a in areas.itertuples()
    ]
    return {"type": "FeatureCollection", "features": features}


def boundary_layer() -> pdk.Layer | None:
    """Service-area outlines (thin line, faint fill), or ``None`` without boundaries."""
    data = boundaries(db.data_version())
    if data is None:
        return None
    return pdk.Layer(
        "GeoJsonLayer",
        data,
        id="service_areas",
        stroked=True,
        filled=True,
        get_fill_color=[52, 101, 164, 18],
        get_line_color=[52, 101, 164, 200],
        line_width_min_pixels=1,
        pickable=False,
    )


def show(layers: list, lat: float, lon: float, *, zoom: float, tooltip: str, key: str) -> None:
    """Draw layers centred on ``lat, lon`` without a basemap (``map_provider=None``), over the
    service-area outlines when they are loaded."""
    under = boundary_layer()
    deck = pdk.Deck(
        layers=([under] if under is not None else []) + layers,
        initial_view_state=pdk.ViewState(latitude=lat, longitude=lon, zoom=zoom, pitch=0),
        map_provider=None,
        tooltip={"text": tooltip},
    )
    st.pydeck_chart(deck, key=key)
