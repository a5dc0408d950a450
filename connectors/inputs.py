"""The input tables beyond the original six: network, people, listings, signals, devices.

Regions, warehouses, suppliers, leaders, pickup points, vehicles, group-buy listings
(campaigns), stock lots, browsing, chat activity and topics, feedback, weather, the holiday
calendar and cold-chain devices, described like the first six (:mod:`connectors.tables`, which
merges them into its ``SPECS``). Check conditions are fixed SQL over the coerced row.
"""

from __future__ import annotations

from connectors.tablespec import Check, Column, Lookup, Reference, TableSpec

C = Column
R = Reference
T = TableSpec


def _one_of(column: str, values: tuple[str, ...]) -> Check:
    listed = ", ".join(f"'{v}'" for v in values)  # fixed vocabularies, not user values
    return Check(f"not_one_of:{column}", f"c.{column} IS NOT NULL AND c.{column} NOT IN ({listed})")


def _between(column: str, low: float, high: float) -> Check:
    return Check(f"out_of_range:{column}", f"c.{column} NOT BETWEEN {low} AND {high}")


def _window(start: str, end: str) -> Check:
    return Check(f"ends_before_start:{end}", f"c.{end} < c.{start}")


_MINUTES = (_between("window_start", 0, 1440), _between("window_end", 0, 1440))

MORE: dict[str, TableSpec] = {
    "regions": T(
        "regions",
        (
            C("region_id", "int", required=True),
            C("name", "str", required=True),
            C("city", "str", required=True),
        ),
        key=("region_id",),
    ),
    "warehouses": T(
        "warehouses",
        (
            C("warehouse_id", "int", required=True),
            C("name", "str", required=True),
            C("region_id", "int", required=True),
            C("lat", "float", required=True),
            C("lon", "float", required=True),
        ),
        key=("warehouse_id",),
        references=(R("region_id", "regions", "region_id"),),
    ),
    "suppliers": T(
        "suppliers",
        (
            C("supplier_id", "int", required=True),
            C("name", "str", required=True),
            C("city", "str"),
            C("lead_time_days", "int", default="1", nonneg=True),
        ),
        key=("supplier_id",),
    ),
    "leaders": T(
        "leaders",
        (
            C("leader_id", "int", required=True),
            C("community_id", "int", required=True),
            C("name", "str", required=True),
            C("phone", "str"),
            C("joined", "date", required=True, not_future=True),
            C("commission_rate", "float", required=True, nonneg=True),
        ),
        key=("leader_id",),
        references=(R("community_id", "communities", "community_id"),),
        checks=(_between("commission_rate", 0, 1),),
    ),
    "pickup_points": T(
        "pickup_points",
        (
            C("pickup_id", "int", required=True),
            C("community_id", "int", required=True),
            C("leader_id", "int"),
            C("name", "str", required=True),
            C("lat", "float"),
            C("lon", "float"),
            C("window_start", "minutes", default="480"),
            C("window_end", "minutes", default="1080"),
            C("service_min", "int", default="5", nonneg=True),
        ),
        key=("pickup_id",),
        references=(
            R("community_id", "communities", "community_id"),
            R("leader_id", "leaders", "leader_id"),
        ),
        lookups=(
            Lookup("leader_id", "leaders", "community_id", "community_id", "leader_id", "min"),
        ),
        checks=(*_MINUTES, _window("window_start", "window_end")),
    ),
    "vehicles": T(
        "vehicles",
        (
            C("vehicle_id", "int", required=True),
            C("warehouse_id", "int", required=True),
            C("plate", "str", required=True),
            C("capacity_kg", "float", required=True, nonneg=True),
            C("capacity_m3", "float", required=True, nonneg=True),
            C("refrigerated", "bool", default="false"),
            C("shift_start", "minutes", default="360"),
            C("shift_end", "minutes", default="1080"),
            C("fixed_cost", "float", default="0", nonneg=True),
            C("cost_per_km", "float", default="0", nonneg=True),
        ),
        key=("vehicle_id",),
        references=(R("warehouse_id", "warehouses", "warehouse_id"),),
        checks=(
            _between("shift_start", 0, 1440),
            _between("shift_end", 0, 1440),
            _window("shift_start", "shift_end"),
        ),
    ),
    "campaigns": T(
        "campaigns",
        (
            C("campaign_id", "int", required=True),
            C("community_id", "int", required=True),
            C("sku_id", "int", required=True),
            C("sale_date", "date", required=True, not_future=True),
            C("price", "float", required=True, nonneg=True),
            C("list_price", "float", nonneg=True),
            C("threshold", "int", required=True, nonneg=True),
            C("stock_limit", "int", nonneg=True),
            C("units", "int", required=True, nonneg=True),
            C("sold_out", "bool", default="coalesce(units >= stock_limit, false)"),
            C("success", "bool", default="units >= threshold"),
        ),
        key=("campaign_id",),
        day="sale_date",
        references=(
            R("community_id", "communities", "community_id"),
            R("sku_id", "skus", "sku_id"),
        ),
        lookups=(Lookup("list_price", "skus", "sku_id", "sku_id", "list_price"),),
    ),
    "inventory_lots": T(
        "inventory_lots",
        (
            C("stock_date", "date", required=True, not_future=True),
            C("warehouse_id", "int", required=True),
            C("sku_id", "int", required=True),
            C("lot_id", "str", required=True),
            C("received_date", "date", required=True, not_future=True),
            C("expiry_date", "date", required=True),
            C("qty", "int", required=True, nonneg=True),
        ),
        key=("stock_date", "warehouse_id", "sku_id", "lot_id"),
        references=(
            R("warehouse_id", "warehouses", "warehouse_id"),
            R("sku_id", "skus", "sku_id"),
        ),
        checks=(
            Check("expiry_before_receipt", "c.expiry_date < c.received_date"),
            Check("received_after_stock_date", "c.received_date > c.stock_date"),
        ),
    ),
    "browse_events": T(
        "browse_events",
        (
            C("event_date", "date", required=True, not_future=True),
            C("community_id", "int", required=True),
            C("sku_id", "int", required=True),
            C("views", "int", required=True, nonneg=True),
            C("carts", "int", default="0", nonneg=True),
        ),
        key=("event_date", "community_id", "sku_id"),
        references=(
            R("community_id", "communities", "community_id"),
            R("sku_id", "skus", "sku_id"),
        ),
    ),
    "chat_activity": T(
        "chat_activity",
        (
            C("activity_date", "date", required=True, not_future=True),
            C("user_id", "int", required=True),
            C("community_id", "int"),
            C("messages", "int", required=True, nonneg=True),
            C("replies_received", "int", default="0", nonneg=True),
            C("shares", "int", default="0", nonneg=True),
        ),
        key=("activity_date", "user_id"),
        references=(
            R("user_id", "users", "user_id"),
            R("community_id", "communities", "community_id"),
        ),
        lookups=(Lookup("community_id", "users", "user_id", "user_id", "community_id"),),
    ),
    "topics": T(
        "topics",
        (
            C("topic_date", "date", required=True, not_future=True),
            C("community_id", "int", required=True),
            C("keyword", "str", required=True),
            C("mentions", "int", required=True, nonneg=True),
        ),
        key=("topic_date", "community_id", "keyword"),
        references=(R("community_id", "communities", "community_id"),),
    ),
    "feedback": T(
        "feedback",
        (
            C("feedback_id", "int", required=True),
            C("order_id", "int", required=True),
            C("user_id", "int"),
            C("community_id", "int"),
            C("feedback_date", "date", required=True, not_future=True),
            C("rating", "int", required=True),
            C("nps", "int", required=True),
            C("complaint", "str"),
        ),
        key=("feedback_id",),
        day="feedback_date",
        references=(
            R("order_id", "orders", "order_id"),
            R("user_id", "users", "user_id"),
            R("community_id", "communities", "community_id"),
        ),
        lookups=(
            Lookup("user_id", "orders", "order_id", "order_id", "user_id"),
            Lookup("community_id", "orders", "order_id", "order_id", "community_id"),
        ),
        checks=(_between("rating", 1, 5), _between("nps", 0, 10)),
    ),
    "weather": T(
        "weather",
        (
            C("weather_date", "date", required=True),
            C("city", "str", required=True),
            C("tmax_c", "float", required=True),
            C("tmin_c", "float", required=True),
            C("precip_mm", "float", default="0", nonneg=True),
            C("condition", "str", default="''"),
            C("kind", "str", default="'observed'"),
        ),
        key=("weather_date", "city"),
        checks=(
            _one_of("kind", ("observed", "forecast")),
            # A forecast may look ahead; an observation cannot come from tomorrow.
            Check("future:weather_date", "c.kind = 'observed' AND c.weather_date > :today"),
            Check("tmin_above_tmax", "c.tmin_c > c.tmax_c"),
        ),
    ),
    "calendar": T(
        "calendar",
        (
            C("cal_date", "date", required=True),
            C("is_holiday", "bool", required=True),
            C("is_workday", "bool", default="NOT is_holiday"),
            C("holiday", "str"),
        ),
        key=("cal_date",),
        checks=(Check("holiday_and_workday", "c.is_holiday AND c.is_workday"),),
    ),
    "devices": T(
        "devices",
        (
            C("device_id", "str", required=True),
            C("kind", "str", required=True),
            C("storage", "str", required=True),
            C("warehouse_id", "int", required=True),
            C("vehicle_id", "int"),
            C("pickup_id", "int"),
            C("lat", "float"),
            C("lon", "float"),
            C("interval_s", "int", default="60", nonneg=True),
        ),
        key=("device_id",),
        references=(
            R("warehouse_id", "warehouses", "warehouse_id"),
            R("vehicle_id", "vehicles", "vehicle_id"),
            R("pickup_id", "pickup_points", "pickup_id"),
        ),
        checks=(
            _one_of("kind", ("truck", "room", "cabinet")),
            _one_of("storage", ("chilled", "frozen")),
        ),
    ),
}
