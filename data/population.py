"""Generate the static population: network, catalogue, users with hidden personas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from data import telemetry, world


@dataclass
class Population:
    """Static tables plus the hidden per-user arrays the simulation needs."""

    regions: pd.DataFrame
    warehouses: pd.DataFrame
    communities: pd.DataFrame
    leaders: pd.DataFrame
    pickup_points: pd.DataFrame
    vehicles: pd.DataFrame
    suppliers: pd.DataFrame
    skus: pd.DataFrame
    users: pd.DataFrame
    devices: pd.DataFrame
    # hidden, per user (index = user_id - 1)
    persona: np.ndarray
    signup_day: np.ndarray
    end_day: np.ndarray  # last day with activity (churning/dormant), large otherwise
    koc: np.ndarray
    chatty: np.ndarray
    kids: np.ndarray
    elderly: np.ndarray
    pet: np.ndarray
    fitness: np.ndarray
    opened_day: np.ndarray  # per community
    activity: np.ndarray  # per-user multiplier of the order rate


def _jitter(rng: np.random.Generator, lat: float, lon: float, n: int, km: float):
    d_lat = rng.normal(0, km / 111.0, n)
    d_lon = rng.normal(0, km / (111.0 * np.cos(np.radians(lat))), n)
    return lat + d_lat, lon + d_lon


def build(rng: np.random.Generator, scale: world.Scale, dates: list[date]) -> Population:
    """Draw the network, catalogue and users of one world.

    Parameters
    ----------
    rng
        The world's random generator.
    scale
        Sizes to generate.
    dates
        The simulated days, oldest first.

    Returns
    -------
    Population
        Tables ready to load plus hidden arrays.
    """
    n_days = len(dates)
    start = dates[0]
    regions = pd.DataFrame(
        [
            (i + 1, name, world.CITY)
            for i, (name, _, _) in enumerate(world.REGIONS[: scale.regions])
        ],
        columns=["region_id", "name", "city"],
    )
    # Warehouses: spread over regions round-robin, near the region centre.
    wh_region = np.arange(scale.warehouses) % scale.regions
    wh_lat = np.empty(scale.warehouses)
    wh_lon = np.empty(scale.warehouses)
    for i, r in enumerate(wh_region):
        la, lo = _jitter(rng, world.REGIONS[r][1], world.REGIONS[r][2], 1, 2.0)
        wh_lat[i], wh_lon[i] = la[0], lo[0]
    warehouses = pd.DataFrame(
        {
            "warehouse_id": np.arange(1, scale.warehouses + 1, dtype=np.int32),
            "name": [
                f"{world.REGIONS[r][0][:2]}前置仓{i + 1:02d}" for i, r in enumerate(wh_region)
            ],
            "region_id": (wh_region + 1).astype(np.int32),
            "lat": wh_lat,
            "lon": wh_lon,
        }
    )

    # Communities.
    n_c = scale.communities
    c_region = rng.integers(0, scale.regions, n_c)
    c_region[: len(world.SEED_COMMUNITIES)] = np.arange(len(world.SEED_COMMUNITIES)) % scale.regions
    c_type = rng.choice(len(world.COMMUNITY_TYPES), n_c, p=world.TYPE_SHARES)
    for i, (_, t) in enumerate(world.SEED_COMMUNITIES[:n_c]):
        c_type[i] = world.COMMUNITY_TYPES.index(t)
    c_lat = np.empty(n_c)
    c_lon = np.empty(n_c)
    for i, r in enumerate(c_region):
        la, lo = _jitter(rng, world.REGIONS[r][1], world.REGIONS[r][2], 1, 3.5)
        c_lat[i], c_lon[i] = la[0], lo[0]
    # Serving warehouse: the nearest one.
    d2 = (c_lat[:, None] - wh_lat[None, :]) ** 2 + (
        (c_lon[:, None] - wh_lon[None, :]) * np.cos(np.radians(28.2))
    ) ** 2
    c_wh = d2.argmin(axis=1)
    households = np.round(rng.lognormal(np.log(1400), 0.45, n_c) / 10) * 10
    households[c_type == 0] *= 0.7  # high-end estates are smaller
    opened = np.where(rng.random(n_c) < 0.5, 0, rng.integers(0, max(1, int(n_days * 0.7)), n_c))
    opened[: len(world.SEED_COMMUNITIES)] = 0
    type_names = np.array(world.COMMUNITY_TYPES)[c_type]
    price_sqm = np.where(
        type_names == "high_end",
        rng.normal(26000, 4000, n_c),
        np.where(
            type_names == "elderly", rng.normal(9000, 1500, n_c), rng.normal(13000, 2500, n_c)
        ),
    )
    built = np.where(
        type_names == "elderly", rng.integers(1985, 2005, n_c), rng.integers(2005, 2022, n_c)
    )
    communities = pd.DataFrame(
        {
            "community_id": np.arange(1, n_c + 1, dtype=np.int32),
            "name": world.community_names(rng, n_c),
            "region_id": (c_region + 1).astype(np.int32),
            "warehouse_id": (c_wh + 1).astype(np.int32),
            "type": type_names,
            "households": households.astype(np.int32),
            "built_year": built.astype(np.int32),
            "avg_price_sqm": np.round(price_sqm, -1),
            "lat": c_lat,
            "lon": c_lon,
            "opened": [start + timedelta(days=int(o)) for o in opened],
        }
    )
    leaders = pd.DataFrame(
        {
            "leader_id": communities["community_id"],
            "community_id": communities["community_id"],
            "name": world.person_name(rng, n_c),
            "phone": [f"1{rng.integers(30, 99)}{rng.integers(0, 10**8):08d}" for _ in range(n_c)],
            "joined": communities["opened"],
            "commission_rate": rng.choice([0.08, 0.10, 0.12], n_c, p=[0.3, 0.5, 0.2]),
        }
    )
    p_lat, p_lon = c_lat + rng.normal(0, 0.0015, n_c), c_lon + rng.normal(0, 0.0015, n_c)
    pickup_points = pd.DataFrame(
        {
            "pickup_id": communities["community_id"],
            "community_id": communities["community_id"],
            "leader_id": communities["community_id"],
            "name": [f"{n}自提点" for n in communities["name"]],
            "lat": p_lat,
            "lon": p_lon,
            "window_start": rng.choice([420, 450, 480, 510], n_c).astype(np.int32),
            "window_end": rng.choice([900, 960, 1020], n_c).astype(np.int32),
            "service_min": rng.integers(5, 11, n_c).astype(np.int32),
        }
    )
    # Vehicles: enough capacity for each warehouse's communities with slack.
    veh_rows = []
    vid = 1
    for w in range(scale.warehouses):
        n_served = int((c_wh == w).sum())
        n_veh = max(2, int(np.ceil(n_served / 7)) + 1)
        for _ in range(n_veh):
            refr = rng.random() < 0.7
            cap = float(rng.choice([800, 1000, 1200, 1500]))
            veh_rows.append(
                (
                    vid,
                    w + 1,
                    f"湘A{rng.integers(10000, 99999)}",
                    cap,
                    cap / 250.0,
                    bool(refr),
                    360,
                    1080,
                    180.0 if refr else 120.0,
                    2.6 if refr else 1.8,
                )
            )
            vid += 1
    vehicles = pd.DataFrame(
        veh_rows,
        columns=[
            "vehicle_id",
            "warehouse_id",
            "plate",
            "capacity_kg",
            "capacity_m3",
            "refrigerated",
            "shift_start",
            "shift_end",
            "fixed_cost",
            "cost_per_km",
        ],
    )
    suppliers = pd.DataFrame(
        [(i + 1, n, c, lt) for i, (n, c, lt) in enumerate(world.SUPPLIER_NAMES)],
        columns=["supplier_id", "name", "city", "lead_time_days"],
    )

    cat = world.catalogue()
    n_s = len(cat)
    launched = [start - timedelta(days=int(x)) for x in rng.integers(60, 900, n_s)]
    # Some SKUs launch inside the horizon ("new since" filters need them).
    recent = rng.random(n_s) < 0.06
    for k in np.flatnonzero(recent).tolist():
        launched[k] = dates[int(rng.integers(0, n_days))]
    for k in np.flatnonzero(cat["name"].isin(["无添加果泥", "无添加蔬菜泥"])).tolist():
        launched[k] = dates[-1] - timedelta(days=int(rng.integers(3, 12)))
    skus = pd.DataFrame(
        {
            "sku_id": np.arange(1, n_s + 1, dtype=np.int32),
            "name": cat["name"],
            "category": cat["category"],
            "storage": cat["storage"],
            "shelf_life_days": cat["shelf_life_days"].astype(np.int32),
            "list_price": cat["list_price"],
            "unit_cost": np.round(
                cat["list_price"] * cat["cost_ratio"] * rng.uniform(0.92, 1.08, n_s), 2
            ),
            "unit": cat["unit"],
            "weight_kg": cat["weight_kg"] * rng.uniform(0.8, 1.25, n_s),
            "volume_l": cat["weight_kg"] * rng.uniform(1.2, 3.0, n_s),
            "pack_size": rng.choice([1, 6, 10, 12, 20], n_s).astype(np.int32),
            "supplier_id": cat["category"].map(world.CATEGORY_SUPPLIER).astype(np.int32) + 1,
            "tags": cat["tags"],
            "launched": launched,
        }
    )

    # Users.
    n_u = scale.users
    size = households / households.sum()
    u_comm = rng.choice(n_c, n_u, p=size)
    u_comm.sort()
    u_type = c_type[u_comm]
    tname = np.array(world.COMMUNITY_TYPES)[u_type]
    elderly = rng.random(n_u) < np.where(tname == "elderly", 0.6, 0.12)
    kids = (~elderly) & (
        rng.random(n_u)
        < np.select(
            [tname == "young_family", tname == "high_end", tname == "elderly"],
            [0.65, 0.35, 0.1],
            0.3,
        )
    )
    pet = rng.random(n_u) < 0.12
    fitness = (~elderly) & (rng.random(n_u) < np.where(tname == "high_end", 0.25, 0.1))
    p_hv = np.select(
        [tname == "high_end", tname == "young_family", tname == "elderly"], [0.42, 0.26, 0.08], 0.18
    )
    p_ps = np.select([tname == "high_end", tname == "elderly"], [0.25, 0.62], 0.45)
    p_ch = np.full(n_u, 0.13)
    p_do = np.full(n_u, 0.10)
    r = rng.random(n_u) * (p_hv + p_ps + p_ch + p_do)
    persona = np.where(
        r < p_hv, 0, np.where(r < p_hv + p_ps, 1, np.where(r < p_hv + p_ps + p_ch, 3, 4))
    )
    # Signup: an initial cohort before the first day, the rest spread after opening.
    c_open = opened[u_comm]
    initial = (c_open == 0) & (rng.random(n_u) < (0.35 if n_days > 200 else 0.75))
    signup = np.where(
        initial,
        -rng.integers(1, 400, n_u),
        c_open + (rng.random(n_u) ** 0.8 * (n_days - c_open)).astype(int),
    )
    end_day = np.full(n_u, 10**6)
    # Churning: activity fades over 45 days to a stop near the end of the horizon.
    ch = persona == 3
    end_day[ch] = rng.integers(n_days - 70, n_days + 6, ch.sum())
    bad = ch & (end_day < signup + 50)
    persona[bad] = 1
    end_day[bad] = 10**6
    # Dormant: stopped long before the end.
    do = persona == 4
    lo = np.maximum(signup, 0) + 20
    hi = n_days - 45
    ok = do & (lo < hi)
    end_day[ok] = lo[ok] + (rng.random(ok.sum()) * (hi - lo[ok])).astype(int)
    persona[do & ~ok] = 1
    new = signup >= n_days - 30
    persona[new] = 2
    end_day[new] = 10**6
    koc = rng.random(n_u) < world.KOC_SHARE * np.where(persona == 0, 1.8, 1.0)
    koc &= persona != 4
    # Every community has at least one KOC.
    first_of_comm = np.searchsorted(u_comm, np.arange(n_c))
    for c in range(n_c):
        lo_i = first_of_comm[c]
        hi_i = first_of_comm[c + 1] if c + 1 < n_c else n_u
        if hi_i > lo_i and not koc[lo_i:hi_i].any():
            cand = np.flatnonzero(persona[lo_i:hi_i] != 4)
            if len(cand):
                koc[lo_i + int(rng.choice(cand))] = True
    chatty = (~koc) & (rng.random(n_u) < 0.05)
    activity = rng.lognormal(-(world.ACTIVITY_SIGMA**2) / 2, world.ACTIVITY_SIGMA, n_u)

    def stated(flag: np.ndarray, p_true_if: float, p_true_else: float) -> list:
        draw = rng.random(n_u)
        val = np.where(flag, draw < p_true_if, draw < p_true_else)
        missing = rng.random(n_u) < 0.3
        return [None if m else bool(v) for v, m in zip(val, missing, strict=True)]

    age = np.where(
        elderly,
        "60+",
        rng.choice(["18-29", "30-44", "45-59"], n_u, p=[0.25, 0.5, 0.25]),
    )
    age_obj = [None if m else a for a, m in zip(age, rng.random(n_u) < 0.15, strict=True)]
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, n_u + 1, dtype=np.int32),
            "community_id": (u_comm + 1).astype(np.int32),
            "building": [f"{b}栋" for b in rng.integers(1, 30, n_u)],
            "signup_date": [start + timedelta(days=int(s)) for s in signup],
            "channel": rng.choice(
                ["leader_invite", "wechat_group", "poster", "app"], n_u, p=[0.45, 0.3, 0.1, 0.15]
            ),
            "gender": rng.choice(["F", "M"], n_u, p=[0.68, 0.32]),
            "age_band": age_obj,
            "has_children": stated(kids, 0.9, 0.04),
            "has_pet": stated(pet, 0.9, 0.02),
        }
    )

    devices = _devices(warehouses, vehicles, pickup_points, communities)
    return Population(
        regions,
        warehouses,
        communities,
        leaders,
        pickup_points,
        vehicles,
        suppliers,
        skus,
        users,
        devices,
        persona,
        signup,
        end_day,
        koc,
        chatty,
        kids,
        elderly,
        pet,
        fitness,
        opened,
        activity,
    )


def _devices(warehouses, vehicles, pickup_points, communities) -> pd.DataFrame:
    rows = []
    for w in warehouses.itertuples():
        for storage, tag in (("chilled", "C"), ("frozen", "F")):
            rows.append(
                (
                    f"WH{w.warehouse_id:02d}-ROOM-{tag}",
                    "room",
                    storage,
                    w.warehouse_id,
                    None,
                    None,
                    w.lat,
                    w.lon,
                    60,
                )
            )
    for v in vehicles[vehicles["refrigerated"]].itertuples():
        wh = warehouses.set_index("warehouse_id").loc[v.warehouse_id]
        rows.append(
            (
                f"TRK-{v.vehicle_id:04d}",
                "truck",
                "chilled",
                v.warehouse_id,
                v.vehicle_id,
                None,
                wh.lat,
                wh.lon,
                30,
            )
        )
    comm_wh = communities.set_index("community_id")["warehouse_id"]
    for p in pickup_points.itertuples():
        rows.append(
            (
                f"CAB-{p.pickup_id:04d}",
                "cabinet",
                "chilled",
                int(comm_wh[p.community_id]),
                None,
                p.pickup_id,
                p.lat,
                p.lon,
                60,
            )
        )
    return pd.DataFrame(rows, columns=telemetry.DEVICE_COLUMNS)
