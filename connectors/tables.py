"""What an importable table looks like: columns, keys, references and checks.

Every table an engine reads is an input table a platform can bring from its own sheets or
databases (regions and warehouses through orders, stock lots, listings, signals, weather and
cold-chain devices). Each is described here once; the file importer, the validation, the
command line (:mod:`connectors.load`) and the database sync all read these specs. Column
names are the schema's (engine/schema.sql), so they double as the whitelist of identifiers
that may reach SQL. The shape of a spec is in :mod:`connectors.tablespec`.
"""

from __future__ import annotations

from connectors import inputs
from connectors.tablespec import (
    KINDS,
    Check,
    Column,
    DayVia,
    Lookup,
    NotBefore,
    Reference,
    TableSpec,
)
from engine import limits

__all__ = ["KINDS", "LOAD_ORDER", "SPECS", "Check", "Column", "DayVia", "Lookup", "NotBefore"]
__all__ += ["Reference", "TableSpec", "spec"]

C = Column
PRICE, QTY = limits.IMPORT_MAX_PRICE, limits.IMPORT_MAX_QTY
LAT, LON = limits.LATITUDE, limits.LONGITUDE

SPECS: dict[str, TableSpec] = {
    "communities": TableSpec(
        "communities",
        (
            C("community_id", "int", required=True),
            C("name", "str", required=True),
            C("region_id", "int", required=True),
            C("warehouse_id", "int", required=True),
            C("type", "str", default="'mixed'", choices=limits.COMMUNITY_TYPES),
            C(
                "households",
                "int",
                required=True,
                nonneg=True,
                lo=0,
                hi=limits.IMPORT_MAX_HOUSEHOLDS,
            ),
            C(
                "built_year",
                "int",
                nonneg=True,
                lo=limits.IMPORT_BUILT_YEAR[0],
                hi=limits.IMPORT_BUILT_YEAR[1],
            ),
            C("avg_price_sqm", "float", nonneg=True, lo=0, hi=limits.IMPORT_MAX_PRICE_SQM),
            C("lat", "float", required=True, lo=LAT[0], hi=LAT[1]),
            C("lon", "float", required=True, lo=LON[0], hi=LON[1]),
            C("opened", "date", required=True, not_future=True),
        ),
        key=("community_id",),
        references=(
            Reference("region_id", "regions", "region_id"),
            Reference("warehouse_id", "warehouses", "warehouse_id"),
        ),
    ),
    "users": TableSpec(
        "users",
        (
            C("user_id", "int", required=True),
            C("community_id", "int", required=True),
            C("building", "str", default="''"),
            C("signup_date", "date", required=True, not_future=True),
            C("channel", "str", default="'unknown'"),
            C("gender", "str"),
            C("age_band", "str"),
            C("has_children", "bool"),
            C("has_pet", "bool"),
            C("phone", "str"),
        ),
        key=("user_id",),
        references=(Reference("community_id", "communities", "community_id"),),
    ),
    "skus": TableSpec(
        "skus",
        (
            C("sku_id", "int", required=True),
            C("name", "str", required=True),
            C("category", "str", required=True),
            C("storage", "str", default="'ambient'", choices=limits.STORAGE_KINDS),
            C(
                "shelf_life_days",
                "int",
                required=True,
                nonneg=True,
                lo=0,
                hi=limits.IMPORT_MAX_SHELF_LIFE_DAYS,
            ),
            C("list_price", "float", required=True, nonneg=True, lo=0, hi=PRICE),
            C("unit_cost", "float", required=True, nonneg=True, lo=0, hi=PRICE),
            C("unit", "str", default="'件'"),
            C(
                "weight_kg",
                "float",
                required=True,
                nonneg=True,
                lo=0,
                hi=limits.IMPORT_MAX_WEIGHT_KG,
            ),
            # A litre per kilogram is the density of water: a fair guess for groceries.
            C(
                "volume_l",
                "float",
                default="weight_kg",
                nonneg=True,
                lo=0,
                hi=limits.IMPORT_MAX_WEIGHT_KG,
            ),
            C("pack_size", "int", default="1", nonneg=True, lo=0, hi=QTY),
            C("supplier_id", "int", required=True),
            C("tags", "list", default="[]::VARCHAR[]"),
            C("launched", "date", required=True, not_future=True),
        ),
        key=("sku_id",),
    ),
    "orders": TableSpec(
        "orders",
        (
            C("order_id", "int", required=True),
            C("user_id", "int", required=True),
            C("community_id", "int"),
            C("pickup_id", "int"),
            C("order_date", "date", default="CAST(created_at AS DATE)", not_future=True),
            C("created_at", "timestamp", required=True, not_future=True),
            # Next-day group-buying: at the pickup point by 17:00 the day after the order (as the generator).
            C(
                "promised_by",
                "timestamp",
                default="CAST(order_date AS TIMESTAMP) + INTERVAL 41 HOUR",
            ),
            C("delivered_at", "timestamp"),
            C("picked_up_at", "timestamp"),
            C("status", "str", default="'paid'", choices=limits.ORDER_STATUSES),
            C("ref_user_id", "int"),
            C("coupon", "float", default="0", nonneg=True, lo=0, hi=PRICE),
            C("coupon_code", "str"),
        ),
        key=("order_id",),
        day="order_date",
        references=(
            Reference("user_id", "users", "user_id"),
            Reference("community_id", "communities", "community_id"),
            Reference("pickup_id", "pickup_points", "pickup_id"),
        ),
        lookups=(
            Lookup("community_id", "users", "user_id", "user_id", "community_id"),
            Lookup(
                "pickup_id", "pickup_points", "community_id", "community_id", "pickup_id", "min"
            ),
        ),
        not_before=(
            NotBefore("created_at", "users", "user_id", "user_id", "signup_date", "signup"),
        ),
    ),
    "order_items": TableSpec(
        "order_items",
        (
            C("order_id", "int", required=True),
            C("sku_id", "int", required=True),
            C("campaign_id", "int"),
            C("qty", "int", required=True, nonneg=True, lo=0, hi=QTY),
            C("unit_price", "float", required=True, nonneg=True, lo=0, hi=PRICE),
            C("list_price", "float", nonneg=True, lo=0, hi=PRICE),
            C("unit_cost", "float", nonneg=True, lo=0, hi=PRICE),
            C("refund_qty", "int", default="0", nonneg=True, lo=0, hi=QTY),
            C("refund_reason", "str"),
        ),
        key=("order_id", "sku_id"),
        day_via=DayVia("order_id", "orders", "order_id", "order_date"),
        references=(
            Reference("order_id", "orders", "order_id"),
            Reference("sku_id", "skus", "sku_id"),
        ),
        lookups=(
            Lookup("list_price", "skus", "sku_id", "sku_id", "list_price"),
            Lookup("unit_cost", "skus", "sku_id", "sku_id", "unit_cost"),
        ),
        at_most=(("refund_qty", "qty"),),
    ),
    "inventory": TableSpec(
        "inventory",
        (
            C("stock_date", "date", required=True, not_future=True),
            C("warehouse_id", "int", required=True),
            C("sku_id", "int", required=True),
            C("received", "int", default="0", nonneg=True, lo=0, hi=QTY),
            C("sold", "int", default="0", nonneg=True, lo=0, hi=QTY),
            C("wasted", "int", default="0", nonneg=True, lo=0, hi=QTY),
            C("on_hand", "int", required=True, nonneg=True, lo=0, hi=QTY),
            C("in_transit", "int", default="0", nonneg=True, lo=0, hi=QTY),
        ),
        key=("stock_date", "warehouse_id", "sku_id"),
        day="stock_date",
        references=(
            Reference("warehouse_id", "warehouses", "warehouse_id"),
            Reference("sku_id", "skus", "sku_id"),
        ),
    ),
    # Optional (issue 18): reference or competitor prices that cap the price optimiser.
    "reference_prices": TableSpec(
        "reference_prices",
        (
            C("price_date", "date", required=True, not_future=True),
            C("sku_id", "int", required=True),
            C("competitor", "str", required=True),
            C("reference_price", "float", required=True, nonneg=True),
        ),
        key=("price_date", "sku_id", "competitor"),
        references=(Reference("sku_id", "skus", "sku_id"),),
    ),
}

SPECS |= inputs.MORE

# Parents before children, so a batch's rows can satisfy later tables' references.
LOAD_ORDER = (
    "regions",
    "warehouses",
    "suppliers",
    "communities",
    "leaders",
    "pickup_points",
    "vehicles",
    "users",
    "skus",
    "campaigns",
    "orders",
    "order_items",
    "inventory",
    "reference_prices",
    "inventory_lots",
    "browse_events",
    "chat_activity",
    "topics",
    "feedback",
    "weather",
    "calendar",
    "devices",
)
# The tables a platform could import before every engine's input was (the core of its data).
ORIGINAL = ("communities", "users", "skus", "orders", "order_items", "inventory")


def spec(table: str) -> TableSpec:
    """Return the spec of an importable table.

    Parameters
    ----------
    table
        Table name, one of :data:`LOAD_ORDER`.

    Returns
    -------
    TableSpec
        Its description.

    Raises
    ------
    ValueError
        When the table cannot be imported.
    """
    if table not in SPECS:
        raise ValueError(
            f"Cannot import into {table!r}; importable tables: {', '.join(LOAD_ORDER)}."
        )
    return SPECS[table]
