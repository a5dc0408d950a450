"""Service-area boundaries from GeoJSON: checks, quarantine, atomic replace, the CLI."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from connectors import geojson
from engine import availability, dataset, reference
from engine import db as dbmod


def _square(lon: float, lat: float, d: float = 0.01) -> list:
    return [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]


def _feature(geometry: dict, **props) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _collection(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


@pytest.fixture
def linli_file(world_file, tmp_path):
    """A writable copy of the small world."""
    path = tmp_path / "linli.duckdb"
    shutil.copy(world_file, path)
    con = dbmod.connect(path)
    yield path, con
    con.close()


def _centre(con) -> tuple[float, float]:
    return con.execute("SELECT avg(lon), avg(lat) FROM communities").fetchone()


GOOD_AND_HOSTILE = {
    "point": _feature({"type": "Point", "coordinates": [112.9, 28.2]}),
    "open": _feature({"type": "Polygon", "coordinates": [[[112, 28], [113, 28], [113, 29]]]}),
    "unclosed": _feature(
        {"type": "Polygon", "coordinates": [[[112, 28], [113, 28], [113, 29], [112, 29]]]}
    ),
    "far": _feature({"type": "Polygon", "coordinates": _square(200.0, 28.0)}),
    "text": _feature({"type": "Polygon", "coordinates": [[["a", 1], [2, 2], [3, 3], ["a", 1]]]}),
    "region": _feature({"type": "Polygon", "coordinates": _square(112.9, 28.2)}, region_id="x"),
}


def test_valid_areas_load_and_hostile_features_are_quarantined(linli_file):
    """Two outlines load; each hostile feature is quarantined with its reason; version bumps."""
    _, con = linli_file
    lon, lat = _centre(con)
    before = dataset.version(con)
    data = _collection(
        _feature({"type": "Polygon", "coordinates": _square(lon, lat)}, area_id="A", name="岳麓"),
        _feature(
            {"type": "MultiPolygon", "coordinates": [_square(lon + 0.02, lat)]},
            area_id="B",
            region_id=1,
        ),
        *GOOD_AND_HOSTILE.values(),
    )
    report = geojson.load(con, data, "areas.geojson")
    assert report.loaded == 2
    assert [why for _, why in report.rejected] == [
        "geometry_type",
        "ring_too_short",
        "ring_not_closed",
        "coordinate_out_of_range",
        "bad_coordinate",
        "bad_region_id",
    ]
    areas = reference.service_areas(con)
    assert list(areas["area_id"]) == ["A", "B"] and areas.loc[0, "name"] == "岳麓"
    assert json.loads(areas.loc[1, "geometry_json"])["type"] == "MultiPolygon"
    quarantined = con.execute(
        "SELECT count(*) FROM import_quarantine WHERE target_table = 'service_areas'"
    ).fetchone()[0]
    assert quarantined == 6
    assert dataset.version(con) != before
    h = availability.health(con).set_index("table")
    assert h.at["service_areas", "rows"] == 2 and h.at["service_areas", "quarantined"] == 6


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        json.dumps({"type": "Feature"}).encode(),
        _collection(
            _feature({"type": "Polygon", "coordinates": _square(112.9, 28.2)}, area_id="X"),
            _feature({"type": "Polygon", "coordinates": _square(113.0, 28.2)}, area_id="X"),
        ),
    ],
    ids=["not-json", "not-a-collection", "duplicate-id"],
)
def test_refused_file_writes_nothing(linli_file, data):
    """A refused file leaves the previous outlines, the import log and the version untouched."""
    _, con = linli_file
    geojson.load(con, _collection(_feature({"type": "Polygon", "coordinates": _square(1, 1)})))
    version = dataset.version(con)
    logs = con.execute("SELECT count(*) FROM import_log").fetchone()[0]
    with pytest.raises(geojson.GeoJsonError):
        geojson.load(con, data)
    assert len(reference.service_areas(con)) == 1
    assert con.execute("SELECT count(*) FROM import_log").fetchone()[0] == logs
    assert dataset.version(con) == version


def test_cli_loads_a_file(linli_file, tmp_path, capsys):
    """`python -m connectors.geojson --db DB FILE` loads and prints the counts."""
    path, con = linli_file
    con.close()
    src = tmp_path / "areas.geojson"
    src.write_bytes(_collection(_feature({"type": "Polygon", "coordinates": _square(1, 1)})))
    assert geojson.main(["--db", str(path), str(src)]) == 0
    assert "1 areas loaded, 0 quarantined" in capsys.readouterr().out
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(b"[]")
    assert geojson.main(["--db", str(path), str(bad)]) == 1
    with duckdb.connect(str(path)) as check:
        assert check.execute("SELECT count(*) FROM service_areas").fetchone()[0] == 1
