"""Reading published benchmark instances (CVRPLIB ``.vrp``, Solomon ``.txt``) and solutions.

Distance conventions follow each format's best-known values:
CVRPLIB/TSPLIB ``EUC_2D`` rounds Euclidean distances to the nearest integer
(``int(d + 0.5)``); Solomon instances (CVRPLIB/DIMACS convention) truncate to one decimal,
which we store exactly as integers scaled by 10 (``distance_scale=10``).
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np

from engine.routing.problem import RoutingProblem, VehicleType


def euclidean(coords: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances of an ``n x 2`` array (float)."""
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def tsplib_round(dist: np.ndarray) -> np.ndarray:
    """TSPLIB ``nint``: nearest integer, halves rounded up (not numpy's banker's rounding)."""
    return np.floor(dist + 0.5).astype(np.int64)


def solomon_trunc10(dist: np.ndarray) -> np.ndarray:
    """Solomon/DIMACS distances truncated to one decimal, times 10 as integers."""
    # Same expression as the published re-scorer (floor(10 * d)); with integer coordinates
    # 10 * d is either an exact integer or irrational, so no float edge case arises.
    return np.floor(dist * 10).astype(np.int64)


def read_instance(path: str | Path) -> RoutingProblem:
    """Read a CVRPLIB ``.vrp`` or a Solomon ``.txt`` instance.

    Parameters
    ----------
    path
        Instance file; the format is chosen from the suffix (``.vrp`` or ``.txt``).

    Returns
    -------
    RoutingProblem
        Node 0 is the depot, nodes ``1..n`` the customers in file order.

    Raises
    ------
    ValueError
        When the file is not a supported format, or a node lacks coordinates or demand.
    """
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".vrp":
        return _read_vrplib(text, path.stem)
    if path.suffix.lower() == ".txt":
        return _read_solomon(text, path.stem)
    raise ValueError(f"{path.name}: unknown instance format (expected .vrp or .txt)")


def _read_vrplib(text: str, name: str) -> RoutingProblem:
    header: dict[str, str] = {}
    coords: dict[int, tuple[float, float]] = {}
    demand: dict[int, int] = {}
    depots: list[int] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        key = line.split(":")[0].strip().upper()
        if key in ("NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION"):
            section = key
            continue
        if key == "EOF":
            break
        if ":" in line and not line[0].isdigit() and not line[0] == "-":
            header[key] = line.split(":", 1)[1].strip()
            section = None
            continue
        parts = line.split()
        if section == "NODE_COORD_SECTION":
            coords[int(parts[0])] = (float(parts[1]), float(parts[2]))
        elif section == "DEMAND_SECTION":
            demand[int(parts[0])] = int(parts[1])
        elif section == "DEPOT_SECTION" and int(parts[0]) >= 0:
            depots.append(int(parts[0]))
    kind = header.get("EDGE_WEIGHT_TYPE", "EUC_2D")
    if kind != "EUC_2D":
        raise ValueError(f"{name}: EDGE_WEIGHT_TYPE {kind} is not supported (only EUC_2D)")
    if "CAPACITY" not in header:
        raise ValueError(f"{name}: no CAPACITY in the header")
    n = int(header.get("DIMENSION", len(coords)))
    ids = list(range(1, n + 1))
    missing = [i for i in ids if i not in coords]
    if missing:
        raise ValueError(f"{name}: nodes {missing[:5]} have no coordinates in NODE_COORD_SECTION")
    missing = [i for i in ids if i not in demand]
    if missing:
        raise ValueError(f"{name}: nodes {missing[:5]} have no demand in DEMAND_SECTION")
    if depots and depots != [1]:
        raise ValueError(f"{name}: only node 1 as the single depot is supported, got {depots}")
    xy = np.array([coords[i] for i in ids])
    return RoutingProblem(
        distance=tsplib_round(euclidean(xy)),
        demand=[demand[i] for i in ids],
        # CVRP fleets are unlimited in the BKS convention: one vehicle per customer suffices.
        vehicle_types=[VehicleType(capacity=int(header["CAPACITY"]), count=n - 1)],
        coords=[tuple(c) for c in xy],
        name=name,
    )


def _read_solomon(text: str, name: str) -> RoutingProblem:
    lines = text.splitlines()
    head = None
    for k, line in enumerate(lines):
        if line.strip().upper().startswith("NUMBER"):
            head = k
            break
    if head is None:
        raise ValueError(f"{name}: not a Solomon file (no VEHICLE/NUMBER CAPACITY header)")
    count, capacity = (int(v) for v in lines[head + 1].split())
    rows = []
    for line in lines[head + 2 :]:
        parts = line.split()
        if not parts or not parts[0].lstrip("-").isdigit():
            continue
        if len(parts) < 7:
            raise ValueError(f"{name}: customer row {parts[0]} has {len(parts)} of 7 fields")
        rows.append([float(v) for v in parts[:7]])
    if not rows:
        raise ValueError(f"{name}: no customer rows")
    data = np.array(rows)
    if list(data[:, 0].astype(int)) != list(range(len(rows))):
        raise ValueError(f"{name}: customer numbers must run 0..{len(rows) - 1}")
    for col in (3, 4, 5, 6):
        if not np.all(data[:, col] == np.round(data[:, col])):
            raise ValueError(f"{name}: demands, windows and service times must be integers")
    dist = solomon_trunc10(euclidean(data[:, 1:3]))
    # Everything that is a time is scaled by 10 too, so travel time equals distance.
    windows = [(int(e) * 10, int(la) * 10) for e, la in data[:, 4:6]]
    return RoutingProblem(
        distance=dist,
        demand=data[:, 3].astype(int).tolist(),
        vehicle_types=[
            VehicleType(
                capacity=capacity, count=count, shift_start=windows[0][0], shift_end=windows[0][1]
            )
        ],
        time_windows=windows,
        service_time=(data[:, 6].astype(int) * 10).tolist(),
        coords=[(float(x), float(y)) for x, y in data[:, 1:3]],
        distance_scale=10,
        name=name,
    )


def read_solution(path: str | Path) -> tuple[list[list[int]], float]:
    """Read a CVRPLIB-style ``.sol`` file.

    Parameters
    ----------
    path
        Solution file with ``Route #k: c1 c2 ...`` lines and a ``Cost`` line.

    Returns
    -------
    tuple[list[list[int]], float]
        Routes as customer node indices (depot 0 implicit), and the stated cost.

    Raises
    ------
    ValueError
        When no routes or no cost line are found.
    """
    text = Path(path).read_text()
    # Some files put two routes on one line, so match on "Route #" rather than lines.
    routes = [
        [int(v) for v in m.group(1).split()]
        for m in re.finditer(r"Route\s*#\d+\s*:([\d\s]*)", text, re.IGNORECASE)
        if m.group(1).split()
    ]
    cost = re.search(r"cost\s+([\d.]+)", text, re.IGNORECASE)
    if not routes or cost is None:
        raise ValueError(f"{path}: no routes or no cost line")
    return routes, float(cost.group(1))


def route_distance(problem: RoutingProblem, routes: list[list[int]], depot: int = 0) -> float:
    """Total distance of routes (stop lists, depot implicit) in the instance's unit."""
    total = 0
    for stops in routes:
        seq = [depot, *stops, depot]
        total += int(sum(problem.distance[a, b] for a, b in itertools.pairwise(seq)))
    return total / problem.distance_scale if problem.distance_scale != 1 else float(total)


def bks_gap(found: float, best_known: float) -> float:
    """Relative gap to a best-known value, in percent."""
    if best_known <= 0 or not math.isfinite(found):
        return math.inf
    return 100.0 * (found - best_known) / best_known
