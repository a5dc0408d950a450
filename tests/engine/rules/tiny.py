"""A hand-built tiny world in the real schema, for rule tests that must not wait for the generator.

Three communities, two warehouses, nine SKUs (some with hostile names), a week of browsing,
orders, inventory and topics ending on AS_OF. Every figure the tests expect can be read off
the rows below.
"""

import datetime as dt

import pandas as pd

from engine import db

AS_OF = dt.date(2026, 6, 30)
HOSTILE = [
    "'); DROP TABLE skus; --",
    'a"b',
    "x' UNION SELECT 1, 2, 3 --",
    "/* c */ 1; DELETE FROM orders",
]


def d(offset: int) -> dt.date:
    """The date ``offset`` days before AS_OF."""
    return AS_OF - dt.timedelta(days=offset)


def build():
    """Return an in-memory connection holding the tiny world."""
    con = db.connect(":memory:")
    tables = {
        "meta": pd.DataFrame({"key": ["as_of"], "value": [AS_OF.isoformat()]}),
        "regions": pd.DataFrame(
            {"region_id": [1, 2], "name": ["岳麓区", "天心区"], "city": ["长沙", "长沙"]}
        ),
        "communities": pd.DataFrame(
            {
                "community_id": [1, 2, 3],
                "name": ["云顶华府", "幸福里", HOSTILE[0]],
                "region_id": [1, 1, 2],
                "warehouse_id": [1, 1, 2],
                "type": ["high_end", "young_family", "elderly"],
                "households": [800, 1200, 600],
                "built_year": [2015, 2010, 1998],
                "avg_price_sqm": [30000.0, 15000.0, 9000.0],
                "lat": [28.2, 28.21, 28.1],
                "lon": [112.9, 112.91, 113.0],
                "opened": [d(400)] * 3,
            }
        ),
        "skus": pd.DataFrame(
            {
                "sku_id": [1, 2, 3, 4, 5, 6, 7, 8, 9],
                "name": ["车厘子", "苹果", "有机牛奶", "无添加果泥", "牛排", *HOSTILE],
                "category": [
                    "水果",
                    "水果",
                    "乳品",
                    "母婴",
                    "肉禽蛋",
                    "水果",
                    "水果",
                    "乳品",
                    "乳品",
                ],
                "storage": ["chilled", "ambient", "chilled", "ambient", "frozen"] + ["ambient"] * 4,
                "shelf_life_days": [7, 20, 10, 180, 90, 30, 30, 30, 30],
                "list_price": [80.0, 10.0, 15.0, 12.0, 60.0, 5.0, 6.0, 20.0, 25.0],
                "unit_cost": [50.0, 6.0, 10.0, 7.0, 40.0, 3.0, 4.0, 12.0, 15.0],
                "unit": ["盒"] * 9,
                "weight_kg": [1.0] * 9,
                "volume_l": [1.0] * 9,
                "pack_size": [1] * 9,
                "supplier_id": [1] * 9,
                "tags": [
                    ["imported"],
                    [],
                    ["organic"],
                    ["kids", "no_additive"],
                    ["imported"],
                    ["x'] OR TRUE --"],
                    [],
                    [],
                    [],
                ],
                "launched": [d(300), d(300), d(300), d(10), d(300), d(300), d(300), d(300), d(-5)],
            }
        ),
        "users": pd.DataFrame(
            {
                "user_id": [1, 2, 3, 4],
                "community_id": [1, 1, 2, 3],
                "building": ["1栋"] * 4,
                "signup_date": [d(200), d(200), d(3), d(200)],
                "channel": ["app"] * 4,
                "gender": ["F", "M", "F", None],
                "age_band": ["30-44", "30-44", "18-29", "60+"],
                "has_children": [True, False, True, None],
                "has_pet": [False, False, True, None],
            }
        ),
    }
    # Orders: (order_id, user, community, days ago, status, [(sku, qty, unit_price, unit_cost, refund)])
    orders = [
        (1, 1, 1, 1, "paid", [(1, 2, 75.0, 50.0, 0), (3, 1, 15.0, 10.0, 0)]),
        (2, 2, 1, 2, "paid", [(1, 1, 80.0, 50.0, 0), (2, 5, 9.0, 6.0, 1)]),
        (3, 1, 1, 10, "paid", [(1, 1, 80.0, 50.0, 0)]),
        (4, 3, 2, 0, "paid", [(4, 3, 12.0, 7.0, 0), (6, 2, 5.0, 3.0, 0)]),
        (5, 3, 2, 3, "cancelled", [(2, 9, 10.0, 6.0, 0)]),
        (6, 4, 3, 4, "paid", [(7, 4, 6.0, 4.0, 0), (2, 1, 10.0, 6.0, 0)]),
    ]
    tables["orders"] = pd.DataFrame(
        {
            "order_id": [o[0] for o in orders],
            "user_id": [o[1] for o in orders],
            "community_id": [o[2] for o in orders],
            "pickup_id": [o[2] for o in orders],
            "order_date": [d(o[3]) for o in orders],
            "created_at": [pd.Timestamp(d(o[3])) for o in orders],
            "promised_by": [pd.Timestamp(d(o[3] - 1)) for o in orders],
            "delivered_at": [None] * len(orders),
            "picked_up_at": [None] * len(orders),
            "status": [o[4] for o in orders],
            "ref_user_id": [None] * len(orders),
            "coupon": [0.0] * len(orders),
        }
    )
    items = [(o[0], *line) for o in orders for line in o[5]]
    tables["order_items"] = pd.DataFrame(
        {
            "order_id": [i[0] for i in items],
            "sku_id": [i[1] for i in items],
            "campaign_id": [None] * len(items),
            "qty": [i[2] for i in items],
            "unit_price": [i[3] for i in items],
            "list_price": [i[3] for i in items],
            "unit_cost": [i[4] for i in items],
            "refund_qty": [i[5] for i in items],
            "refund_reason": [None] * len(items),
        }
    )
    browse = [  # (days ago, community, sku, views, carts)
        (0, 1, 1, 50, 5),
        (1, 1, 1, 30, 2),
        (1, 1, 2, 60, 1),
        (2, 1, 3, 20, 4),
        (1, 1, 5, 10, 0),
        (9, 1, 1, 10, 1),
        (0, 2, 4, 40, 8),
        (2, 2, 6, 15, 3),
        (1, 3, 7, 25, 2),
        (3, 3, 8, 5, 0),
    ]
    tables["browse_events"] = pd.DataFrame(
        {
            "event_date": [d(b[0]) for b in browse],
            "community_id": [b[1] for b in browse],
            "sku_id": [b[2] for b in browse],
            "views": [b[3] for b in browse],
            "carts": [b[4] for b in browse],
        }
    )
    inv = [  # (days ago, warehouse, sku, sold, on_hand)
        (6, 1, 1, 7, 30),
        (0, 1, 1, 7, 14),
        (0, 1, 2, 0, 40),
        (0, 1, 3, 14, 2),
        (0, 2, 7, 0, 0),
    ]
    tables["inventory"] = pd.DataFrame(
        {
            "stock_date": [d(r[0]) for r in inv],
            "warehouse_id": [r[1] for r in inv],
            "sku_id": [r[2] for r in inv],
            "received": [0] * len(inv),
            "sold": [r[3] for r in inv],
            "wasted": [0] * len(inv),
            "on_hand": [r[4] for r in inv],
            "in_transit": [0] * len(inv),
        }
    )
    topics = [  # (days ago, community, keyword, mentions)
        (1, 1, "低糖水果", 12),
        (3, 1, "低糖水果", 8),
        (10, 1, "低糖水果", 4),
        (2, 2, "低糖水果", 1),
        (1, 3, HOSTILE[2], 9),
    ]
    tables["topics"] = pd.DataFrame(
        {
            "topic_date": [d(t[0]) for t in topics],
            "community_id": [t[1] for t in topics],
            "keyword": [t[2] for t in topics],
            "mentions": [t[3] for t in topics],
        }
    )
    for name, frame in tables.items():
        con.register("_frame", frame)
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _frame")
        con.unregister("_frame")
    return con
