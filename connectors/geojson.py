"""Optional service-area boundaries from a GeoJSON FeatureCollection, drawn under every map.

Each feature is one service area: a ``Polygon`` or ``MultiPolygon`` in WGS 84 longitude,
latitude order (RFC 7946), with optional properties ``area_id`` (or ``id``), ``name`` and
``region_id``. A load replaces the whole set of outlines (they describe one territory), in
one transaction with its ``import_log`` row; features that fail a check go to
``import_quarantine`` with their reason, and a file that is not a FeatureCollection is refused
with nothing written. The after-load step then bumps the data version, so maps redraw.

    python -m connectors.geojson --db data/linli.duckdb areas.geojson
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from engine import afterload
from engine import db as dbmod

TABLE = "service_areas"
GEOMETRIES = ("Polygon", "MultiPolygon")


class GeoJsonError(ValueError):
    """The file is not a GeoJSON FeatureCollection; nothing was written."""


@dataclass(frozen=True)
class BoundaryReport:
    """Outcome of a boundary load.

    Attributes
    ----------
    import_id
        Id of the load (its ``import_log`` row is ``<import_id>:service_areas``).
    loaded
        Areas written (they replace the previous set).
    rejected
        ``(feature number, reason)`` of each quarantined feature, numbered from 1.
    """

    import_id: str
    loaded: int
    rejected: tuple[tuple[int, str], ...]


def _ring_problem(ring: Any) -> str | None:
    if not isinstance(ring, list) or len(ring) < 4:
        return "ring_too_short"
    for pt in ring:
        if (
            not isinstance(pt, list)
            or len(pt) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pt[:2])
        ):
            return "bad_coordinate"
        if not (-180 <= pt[0] <= 180 and -90 <= pt[1] <= 90):
            return "coordinate_out_of_range"
    if ring[0][:2] != ring[-1][:2]:
        return "ring_not_closed"
    return None


def check_feature(feature: Any) -> str | None:
    """Return why a feature cannot be an area outline, or ``None`` when it can.

    Parameters
    ----------
    feature
        One parsed GeoJSON feature.

    Returns
    -------
    str or None
        ``not_a_feature``, ``geometry_type``, ``ring_too_short``, ``bad_coordinate``,
        ``coordinate_out_of_range``, ``ring_not_closed`` or ``bad_region_id``.
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return "not_a_feature"
    geom = feature.get("geometry") or {}
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind not in GEOMETRIES or not isinstance(coords, list) or not coords:
        return "geometry_type"
    polygons = coords if kind == "MultiPolygon" else [coords]
    for poly in polygons:
        if not isinstance(poly, list) or not poly:
            return "ring_too_short"
        for ring in poly:
            if problem := _ring_problem(ring):
                return problem
    region = (feature.get("properties") or {}).get("region_id")
    if region is not None and not (isinstance(region, int) and not isinstance(region, bool)):
        return "bad_region_id"
    return None


def parse(data: bytes) -> list[Any]:
    """Return the features of a GeoJSON FeatureCollection.

    Parameters
    ----------
    data
        The file's bytes (UTF-8, a BOM allowed).

    Returns
    -------
    list
        The raw features, in file order.

    Raises
    ------
    GeoJsonError
        When the bytes are not JSON or not a FeatureCollection.
    """
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeoJsonError(f"not a GeoJSON file: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        raise GeoJsonError("a boundary file must be a GeoJSON FeatureCollection")
    features = obj.get("features")
    if not isinstance(features, list):
        raise GeoJsonError("the FeatureCollection has no features list")
    return features


def load(
    con: duckdb.DuckDBPyConnection,
    data: bytes,
    source: str = "boundaries.geojson",
    *,
    username: str | None = None,
) -> BoundaryReport:
    """Replace the service-area outlines with the valid features of a GeoJSON file.

    Parameters
    ----------
    con
        A writable Linli connection.
    data
        The GeoJSON bytes.
    source
        File name for the import log.
    username
        Who loaded, for the audit log.

    Returns
    -------
    BoundaryReport
        Areas loaded and features quarantined with reasons.

    Raises
    ------
    GeoJsonError
        When the file is not a FeatureCollection, or two valid features share an ``area_id``
        (nothing is written).
    """
    features = parse(data)
    rows, rejected = [], []
    now = datetime.now()
    for i, feat in enumerate(features, start=1):
        problem = check_feature(feat)
        if problem:
            rejected.append((i, problem))
            continue
        props = feat.get("properties") or {}
        area = props.get("area_id", feat.get("id", i))
        rows.append(
            (
                str(area),
                props.get("name"),
                props.get("region_id"),
                json.dumps(feat["geometry"]),
                now,
            )
        )
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        raise GeoJsonError("two areas share an area_id; give each feature its own")
    import_id = uuid.uuid4().hex[:16]
    digest = hashlib.sha256(data).hexdigest()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {TABLE}")
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)", rows)
        if rejected:  # the quarantine's import_id is "<load>:<table>", as for file imports
            con.executemany(
                "INSERT INTO import_quarantine VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        f"{import_id}:{TABLE}",
                        TABLE,
                        n,
                        why,
                        json.dumps(features[n - 1], ensure_ascii=False)[:2000],
                    )
                    for n, why in rejected
                ],
            )
        con.execute(
            "INSERT INTO import_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [f"{import_id}:{TABLE}", now, source, TABLE, digest, len(features), len(rows),
             len(rejected)],
        )  # fmt: skip
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    afterload.run(
        con,
        load_id=import_id,
        source=source,
        loaded=len(rows),
        rejected=len(rejected),
        username=username,
    )
    return BoundaryReport(import_id, len(rows), tuple(rejected))


def main(argv: list[str] | None = None) -> int:
    """Load a GeoJSON file of service areas into a Linli database; print the outcome."""
    ap = argparse.ArgumentParser(prog="python -m connectors.geojson", description=__doc__)
    ap.add_argument("--db", required=True, help="Linli DuckDB file")
    ap.add_argument("file", type=Path, help="GeoJSON FeatureCollection of service areas")
    args = ap.parse_args(argv)
    con = dbmod.connect(args.db)
    try:
        report = load(con, args.file.read_bytes(), args.file.name)
    except GeoJsonError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(f"{report.loaded} areas loaded, {len(report.rejected)} quarantined")
    for n, why in report.rejected:
        print(f"  feature {n}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
