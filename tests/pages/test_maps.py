"""Maps: the optional service-area outlines are drawn under every map, offline."""

from __future__ import annotations

import json

import streamlit as st
from streamlit.testing.v1 import AppTest

from connectors import geojson
from dashboard import nav
from tests.connectors.test_geojson import _centre, _collection, _feature, _square, linli_file
from tests.pages.conftest import APP

__all__ = ["linli_file"]  # the fixture, shared with the connector tests


def test_boundaries_are_drawn_under_every_map(linli_file, monkeypatch):
    """After a load, the communities map's first layer is the GeoJSON outline, no basemap."""
    path, con = linli_file
    lon, lat = _centre(con)
    geojson.load(con, _collection(_feature({"type": "Polygon", "coordinates": _square(lon, lat)})))
    con.close()
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(str(nav.ROOT / "pages/communities.py")).run()
    assert not at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert spec["layers"][0]["@@type"] == "GeoJsonLayer"
    assert spec["layers"][0]["data"]["features"][0]["geometry"]["type"] == "Polygon"
    assert "mapProvider" not in spec
    st.cache_resource.clear()
