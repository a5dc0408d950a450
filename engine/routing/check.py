"""Independent feasibility check of a plan: recomputes everything from the problem's raw data.

Deliberately shares no code with the solver side (``solve.schedule``, the backends), so a
bug there cannot hide itself here.
"""

from __future__ import annotations

import itertools
from collections import Counter

from engine.routing.problem import RoutingPlan, RoutingProblem


def violations(problem: RoutingProblem, plan: RoutingPlan) -> list[str]:
    """Every way ``plan`` breaks ``problem``'s rules; empty when the plan is feasible.

    Checks: each stop served once or dropped with a reason, fleet size per vehicle type,
    depot, weight and volume capacity, refrigeration, time windows (with service and waiting),
    shift start and end, and that reported distances match the matrix.

    Parameters
    ----------
    problem
        The problem.
    plan
        A plan for it.

    Returns
    -------
    list[str]
        Human-readable violations.
    """
    p = problem
    out: list[str] = []
    n, depots = p.num_nodes, p.num_depots
    seen: Counter[int] = Counter()
    used: Counter[int] = Counter()
    total = 0
    for k, r in enumerate(plan.routes):
        tag = f"route {k}"
        if not 0 <= r.vehicle_type < len(p.vehicle_types):
            out.append(f"{tag}: unknown vehicle type {r.vehicle_type}")
            continue
        vt = p.vehicle_types[r.vehicle_type]
        used[r.vehicle_type] += 1
        if r.depot != vt.depot:
            out.append(f"{tag}: starts at {r.depot}, its vehicle is based at {vt.depot}")
        bad = [i for i in r.stops if not depots <= i < n]
        if bad:
            out.append(f"{tag}: visits non-stop nodes {bad}")
            continue
        seen.update(r.stops)
        trips = list(r.trips) if r.trips else [0] * len(r.stops)
        if len(trips) != len(r.stops) or trips != sorted(trips):
            out.append(f"{tag}: trip numbers {trips} do not match its stops")
            continue
        if len(set(trips)) > vt.max_trips:
            out.append(f"{tag}: {len(set(trips))} trips, vehicle allows {vt.max_trips}")
        for trip_no in sorted(set(trips)):
            trip = [i for i, j in zip(r.stops, trips, strict=True) if j == trip_no]
            weight = sum(p.demand[i] for i in trip)
            if weight > vt.capacity:
                out.append(f"{tag}: trip {trip_no} load {weight} > capacity {vt.capacity}")
            if p.volume is not None and vt.capacity_volume is not None:
                vol = sum(p.volume[i] for i in trip)
                if vol > vt.capacity_volume:
                    out.append(
                        f"{tag}: trip {trip_no} volume {vol} > capacity {vt.capacity_volume}"
                    )
        if p.needs_refrigeration is not None and not vt.refrigerated:
            cold = [i for i in r.stops if p.needs_refrigeration[i]]
            if cold:
                out.append(f"{tag}: stops {cold} need refrigeration, vehicle is not refrigerated")
        if p.allowed_vehicle_types is not None:
            pins = p.allowed_vehicle_types
            pinned = [i for i in r.stops if r.vehicle_type not in (pins[i] or (r.vehicle_type,))]
            if pinned:
                out.append(f"{tag}: stops {pinned} are pinned to other vehicle types")
        # The driven sequence: depot, the stops, and a depot visit wherever the trip changes.
        seq = [vt.depot]
        for idx, i in enumerate(r.stops):
            if idx and trips[idx] != trips[idx - 1]:
                seq.append(vt.depot)
            seq.append(i)
        seq.append(vt.depot)
        dist = sum(int(p.distance[a][b]) for a, b in itertools.pairwise(seq))
        total += dist
        if dist != r.distance:
            out.append(f"{tag}: reported distance {r.distance}, recomputed {dist}")
        if r.departure < vt.shift_start:
            out.append(f"{tag}: departs {r.departure} before shift start {vt.shift_start}")
        assert p.duration is not None and p.time_windows is not None
        assert p.service_time is not None
        travel = p.duration[vt.profile]
        t = r.departure
        for a, b in itertools.pairwise(seq):
            t += (p.service_time[a] if a != vt.depot else 0) + int(travel[a][b])
            if b == vt.depot:
                continue
            early, late = p.time_windows[b]
            t = max(t, early)
            if t > late:
                out.append(f"{tag}: service at stop {b} starts {t}, window closes {late}")
        if r.stops and t > vt.shift_end:
            out.append(f"{tag}: returns {t}, shift ends {vt.shift_end}")
    for t_idx, count in used.items():
        if 0 <= t_idx < len(p.vehicle_types) and count > p.vehicle_types[t_idx].count:
            out.append(
                f"vehicle type {t_idx}: {count} routes but only "
                f"{p.vehicle_types[t_idx].count} vehicles"
            )
    dropped = Counter(d.node for d in plan.dropped)
    for d in plan.dropped:
        if not d.reason:
            out.append(f"stop {d.node} dropped without a reason")
    for i in range(depots if n else 0, n):
        times = seen[i] + dropped[i]
        if times != 1:
            out.append(f"stop {i} is served {seen[i]}x and dropped {dropped[i]}x")
    if total != plan.distance_units:
        out.append(f"plan distance {plan.distance_units}, recomputed {total}")
    return out


def is_feasible(problem: RoutingProblem, plan: RoutingPlan) -> bool:
    """Whether :func:`violations` finds nothing."""
    return not violations(problem, plan)
