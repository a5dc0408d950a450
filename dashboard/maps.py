"""pydeck maps that render offline: no basemap, points, paths and H3 cells in the house style."""

from __future__ import annotations

import pydeck as pdk
import streamlit as st


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


def show(layers: list, lat: float, lon: float, *, zoom: float, tooltip: str, key: str) -> None:
    """Draw layers centred on ``lat, lon`` without a basemap (``map_provider=None``)."""
    deck = pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(latitude=lat, longitude=lon, zoom=zoom, pitch=0),
        map_provider=None,
        tooltip={"text": tooltip},
    )
    st.pydeck_chart(deck, key=key)
