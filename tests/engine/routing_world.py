"""A hand-built, schema-true delivery day for routing tests and the dispatch benchmark.

Independent of the project generator so the dispatch engine can be tested on exactly known
quantities (used until and alongside ``data.generate``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from engine import db

TABLES = (
    "meta",
    "regions",
    "warehouses",
    "communities",
    "pickup_points",
    "vehicles",
    "skus",
    "orders",
    "order_items",
)


def _schema_connection():
    """In-memory DB with the schema's tables this module fills (straight from schema.sql)."""
    import duckdb

    con = duckdb.connect(":memory:")
    for stmt in db.SCHEMA_PATH.read_text(encoding="utf-8").split(";"):
        body = "\n".join(ln for ln in stmt.splitlines() if not ln.strip().startswith("--"))
        for table in TABLES:
            if f"CREATE TABLE IF NOT EXISTS {table} (" in body:
                con.execute(body)
    return con


CHANGSHA = (28.228, 112.939)
ORDER_DATE = dt.date(2026, 6, 1)


def _insert(con, table: str, df: pd.DataFrame) -> None:
    con.register("_rows", df)
    con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    con.unregister("_rows")


def build_day(
    n_pickups: int = 12,
    n_warehouses: int = 1,
    vans_per_warehouse: int = 3,
    orders_per_pickup: int = 6,
    seed: int = 0,
    con=None,
):
    """Fill a fresh in-memory Linli database with one day of orders around Changsha.

    Returns the open connection; orders are placed on :data:`ORDER_DATE` (delivered the day
    after). Pickup windows are 07:00-17:00 (a few narrower), half the vans refrigerated.
    """
    rng = np.random.default_rng(seed)
    con = con or _schema_connection()
    lat0, lon0 = CHANGSHA
    whs = pd.DataFrame(
        {
            "warehouse_id": range(1, n_warehouses + 1),
            "name": [f"前置仓{w}" for w in range(1, n_warehouses + 1)],
            "region_id": 1,
            "lat": lat0 + rng.uniform(-0.05, 0.05, n_warehouses),
            "lon": lon0 + rng.uniform(-0.05, 0.05, n_warehouses),
        }
    )
    con.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙')")
    _insert(con, "warehouses", whs)
    wh_of = (np.arange(n_pickups) % n_warehouses) + 1
    comm = pd.DataFrame(
        {
            "community_id": range(1, n_pickups + 1),
            "name": [f"小区{i}" for i in range(1, n_pickups + 1)],
            "region_id": 1,
            "warehouse_id": wh_of,
            "type": "mixed",
            "households": 800,
            "built_year": 2010,
            "avg_price_sqm": 12000.0,
            "lat": whs.lat.to_numpy()[wh_of - 1] + rng.uniform(-0.08, 0.08, n_pickups),
            "lon": whs.lon.to_numpy()[wh_of - 1] + rng.uniform(-0.08, 0.08, n_pickups),
            "opened": dt.date(2025, 1, 1),
        }
    )
    _insert(con, "communities", comm)
    windows_end = np.where(rng.random(n_pickups) < 0.2, 12 * 60, 17 * 60)
    pp = pd.DataFrame(
        {
            "pickup_id": range(1, n_pickups + 1),
            "community_id": range(1, n_pickups + 1),
            "leader_id": range(1, n_pickups + 1),
            "name": [f"小区{i}自提点" for i in range(1, n_pickups + 1)],
            "lat": comm.lat,
            "lon": comm.lon,
            "window_start": 7 * 60,
            "window_end": windows_end,
            "service_min": 8,
        }
    )
    _insert(con, "pickup_points", pp)
    vans = []
    for w in range(1, n_warehouses + 1):
        for k in range(vans_per_warehouse):
            refrigerated = k % 2 == 0
            vans.append(
                {
                    "vehicle_id": len(vans) + 1,
                    "warehouse_id": w,
                    "plate": f"湘A{w}{k:03d}",
                    "capacity_kg": 1500.0 if refrigerated else 2000.0,
                    "capacity_m3": 8.0 if refrigerated else 12.0,
                    "refrigerated": refrigerated,
                    "shift_start": 6 * 60,
                    "shift_end": 18 * 60,
                    "fixed_cost": 150.0,
                    "cost_per_km": 2.5,
                }
            )
    vans_df = pd.DataFrame(vans)
    _insert(con, "vehicles", vans_df)
    sku_df = pd.DataFrame(
        {
            "sku_id": [1, 2, 3, 4, 5],
            "name": ["大米5kg", "苹果", "牛奶", "冻饺子", "鸡蛋"],
            "category": ["粮油", "水果", "乳品", "速冻", "肉禽蛋"],
            "storage": ["ambient", "ambient", "chilled", "frozen", "ambient"],
            "shelf_life_days": [365, 10, 7, 180, 20],
            "list_price": [40.0, 15.0, 8.0, 20.0, 18.0],
            "unit_cost": [30.0, 10.0, 5.0, 14.0, 12.0],
            "unit": ["袋", "斤", "盒", "袋", "盒"],
            "weight_kg": [5.0, 0.5, 1.0, 1.0, 1.5],
            "volume_l": [6.0, 1.0, 1.0, 1.5, 3.0],
            "pack_size": [1, 1, 1, 1, 1],
            "supplier_id": [1, 1, 1, 1, 1],
            "tags": [[], [], [], [], []],
            "launched": dt.date(2025, 1, 1),
        }
    )
    _insert(con, "skus", sku_df)
    orders, items = [], []
    for p in range(1, n_pickups + 1):
        for _ in range(orders_per_pickup):
            oid = len(orders) + 1
            status = "paid" if rng.random() > 0.1 else "cancelled"
            created = dt.datetime.combine(ORDER_DATE, dt.time(10, 0))
            orders.append(
                (
                    oid,
                    oid,
                    p,
                    p,
                    ORDER_DATE,
                    created,
                    created + dt.timedelta(hours=31),
                    None,
                    None,
                    status,
                    None,
                    0.0,
                )
            )
            for sku in rng.choice(5, size=rng.integers(1, 4), replace=False) + 1:
                items.append(
                    (oid, int(sku), None, int(rng.integers(1, 5)), 10.0, 12.0, 8.0, 0, None)
                )
    # One order from the day before must not appear in the plan.
    orders.append(
        (
            len(orders) + 1,
            1,
            1,
            1,
            ORDER_DATE - dt.timedelta(days=1),
            created,
            created,
            None,
            None,
            "paid",
            None,
            0.0,
        )
    )
    items.append((len(orders), 1, None, 99, 10.0, 12.0, 8.0, 0, None))
    order_df = pd.DataFrame(orders)
    item_df = pd.DataFrame(items)
    _insert(con, "orders", order_df)
    _insert(con, "order_items", item_df)
    con.execute("INSERT INTO meta VALUES ('as_of', ?)", [ORDER_DATE.isoformat()])
    return con
