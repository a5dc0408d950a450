"""Tests of the delivery-day planner (engine.routing.dispatch) and its exports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from engine import clock, db
from engine.routing import check, dispatch, export, lists
from tests.engine.routing_world import ORDER_DATE, build_day

DELIVERY = ORDER_DATE + dt.timedelta(days=1)
FAST = dispatch.DispatchSettings(time_limit_s=1)


@pytest.fixture(scope="module")
def day_db():
    """A 12-pickup day around one warehouse with three vans (two refrigerated)."""
    return build_day(n_pickups=12, n_warehouses=1, vans_per_warehouse=3, seed=3)


@pytest.fixture(scope="module")
def day(day_db):
    """The planned delivery day."""
    return dispatch.plan_day(day_db.cursor(), DELIVERY, settings=FAST)


def paid_lines(con):
    """Shipped units per pickup point and SKU, straight from the orders tables."""
    return con.execute(
        """SELECT o.pickup_id, oi.sku_id, SUM(oi.qty) AS qty, COUNT(DISTINCT o.order_id) AS n
           FROM orders o JOIN order_items oi USING (order_id)
           WHERE o.order_date = ? AND o.status = 'paid' GROUP BY ALL""",
        [ORDER_DATE],
    ).df()


def test_every_stop_is_routed_once_or_dropped_with_reason(day, day_db):
    """Each stop appears in exactly one route or in the dropped list with a reason."""
    routed = day.route_stops["stop_key"].value_counts()
    dropped = set(day.dropped["stop_key"])
    assert (routed == 1).all()
    assert set(routed.index) | dropped == set(day.stops["stop_key"])
    assert not set(routed.index) & dropped
    assert day.dropped["reason"].str.len().gt(0).all()
    pickups = set(paid_lines(day_db)["pickup_id"])
    assert pickups == set(day.stops["pickup_id"])


def test_plan_serves_every_order_on_an_easy_day(day):
    """With ample vans nothing is dropped and every problem passes the independent checker."""
    assert day.dropped.empty
    for ws in day.solves:
        assert check.violations(ws.problem, ws.plan) == []


def test_only_paid_orders_of_the_previous_day_are_planned(day, day_db):
    """Cancelled orders and orders of other days don't reach the plan."""
    assert day.order_date == ORDER_DATE
    assert day.lines["order_id"].nunique() == paid_lines(day_db).pipe(
        lambda _: day_db.execute(
            "SELECT COUNT(*) FROM orders WHERE order_date = ? AND status = 'paid'", [ORDER_DATE]
        ).fetchone()[0]
    )


def test_pick_lists_add_up_to_the_orders(day, day_db):
    """Per pickup point and SKU, the pick list and the loading lists match the order lines."""
    truth = paid_lines(day_db).set_index(["pickup_id", "sku_id"]).sort_index()
    picking = lists.pick_list(day).groupby(["pickup_id", "sku_id"])[["qty", "orders"]].sum()
    assert picking["qty"].to_dict() == truth["qty"].to_dict()
    loading = lists.loading_list(day).groupby(["pickup_id", "sku_id"])["qty"].sum()
    assert loading.to_dict() == truth["qty"].to_dict()
    # with split cold/ambient stops an SKU lives in exactly one part, so counts match too
    assert picking["orders"].to_dict() == truth["n"].to_dict()


def test_loading_order_is_reverse_of_stop_order(day):
    """Within each trip of each vehicle, the first stop's goods are loaded last."""
    loading = lists.loading_list(day)
    for _, group in loading.groupby(["vehicle_id", "trip"]):
        seqs = group.drop_duplicates("load_seq").sort_values("load_seq")["seq"].tolist()
        assert seqs == sorted(seqs, reverse=True)
        assert group["load_seq"].min() == 1


def test_cold_goods_ride_only_refrigerated_vehicles(day):
    """Stops holding chilled or frozen SKUs are on refrigerated vehicles."""
    reefer = day.routes.set_index("vehicle_id")["refrigerated"]
    cold_stops = set(day.stops.loc[day.stops["needs_refrigeration"], "stop_key"])
    visits = day.route_stops[day.route_stops["stop_key"].isin(cold_stops)]
    assert not visits.empty
    assert visits["vehicle_id"].map(reefer).all()


def test_etas_respect_pickup_windows(day):
    """Service at each pickup point starts inside its delivery window."""
    rs = day.route_stops
    assert (rs["service_start_min"] <= rs["window_end"] + 1e-9).all()
    assert (rs["service_start_min"] >= rs["window_start"] - 1e-9).all()


def test_route_table_is_consistent(day):
    """Route rows add up their visits and stay within capacity."""
    per_vehicle = day.route_stops.groupby("vehicle_id")["kg"].sum()
    routes = day.routes.set_index("vehicle_id")
    assert routes["load_kg"].to_dict() == pytest.approx(per_vehicle.to_dict(), abs=0.11)
    assert (routes["load_pct"] <= 1).all()
    assert all(path[0] == path[-1] for path in routes["path"])


def test_missing_coordinates_and_overweight_stops_are_dropped_with_reasons():
    """A pickup without coordinates and one heavier than any van are listed; the rest routed."""
    con = build_day(n_pickups=8, seed=5)
    con.execute("UPDATE pickup_points SET lat = NULL WHERE pickup_id = 2")
    heavy = con.execute(
        "SELECT MIN(o.order_id) FROM orders o WHERE pickup_id = 3 AND status = 'paid'"
    ).fetchone()[0]
    # 1000 bags of 5 kg rice: 5 t, more than the biggest (2 t) van.
    con.execute("INSERT INTO order_items VALUES (?, 1, NULL, 1000, 1, 1, 1, 0, NULL)", [heavy])
    day = dispatch.plan_day(con, DELIVERY, settings=FAST)
    codes = dict(zip(day.dropped["stop_key"], day.dropped["code"], strict=True))
    assert codes.get("2:ambient") == "no_coordinates"
    assert codes.get("3:ambient") == "too_heavy"
    assert set(codes) <= {"2:ambient", "2:cold", "3:ambient"}
    assert len(day.route_stops) == len(day.stops) - len(codes)


def test_empty_day_gives_empty_plan_with_message():
    """A date without orders returns empty tables and says so."""
    con = build_day(n_pickups=3)
    day = dispatch.plan_day(con, DELIVERY + dt.timedelta(days=30), settings=FAST)
    assert day.routes.empty and day.route_stops.empty and day.dropped.empty
    assert "no paid orders" in day.messages[0]
    assert lists.loading_list(day).empty
    assert "<html>" in export.to_html(day)


def test_too_small_fleet_drops_stops_for_lack_of_room():
    """With one small van, unserved pickup points are listed with code no_room."""
    con = build_day(n_pickups=10, seed=2)
    vans = con.execute("SELECT * FROM vehicles WHERE vehicle_id = 1").df()
    vans["capacity_kg"] = 150.0
    settings = dispatch.DispatchSettings(time_limit_s=1, max_trips=2)
    day = dispatch.plan_day(con, DELIVERY, settings=settings, vehicles=vans)
    assert day.stops["kg"].sum() > 2 * 150  # more than two trips of the van can carry
    assert not day.dropped.empty
    assert set(day.dropped["code"]) <= {"no_room", "too_heavy"}
    assert (day.routes["load_pct"] <= 1).all() and (day.routes["trips"] <= 2).all()
    assert day.routes["load_kg"].max() <= 2 * 150
    assert len(day.route_stops) + len(day.dropped) == len(day.stops)
    # The reason states the real shortage: what the stops need against what the van carries.
    room = day.dropped[day.dropped["code"] == "no_room"]
    assert room["reason"].str.contains("1 vans carry 150 kg per trip").all()
    assert room["reason"].str.contains("more than the fleet can carry").all()


def test_fleet_note_says_whether_the_fleet_is_short():
    """The drop note compares needed kg with capacity x trips, cold goods separately."""
    con = build_day(n_pickups=6, seed=2)
    vans = con.execute("SELECT * FROM vehicles").df()
    day = dispatch.plan_day(con, DELIVERY, settings=FAST, vehicles=vans)
    problem = day.solves[0].problem
    need = day.stops["kg"].sum()
    assert f"stops need {need:,.0f} kg" in dispatch.fleet_note(problem, 3)
    assert "more than the fleet" not in dispatch.fleet_note(problem, 3)
    tiny = [dataclasses.replace(vt, capacity=1) for vt in problem.vehicle_types]
    short = dataclasses.replace(problem, vehicle_types=tiny)
    assert "more than the fleet can carry" in dispatch.fleet_note(short, 3)


def test_day_is_the_same_quality_with_one_or_two_processes():
    """Warehouses solved in parallel processes give complete, checker-clean plans too."""
    con = build_day(n_pickups=10, n_warehouses=3, vans_per_warehouse=2, seed=4)
    for workers in (1, 2):
        settings = dispatch.DispatchSettings(time_limit_s=1.5, workers=workers)
        day = dispatch.plan_day(con, DELIVERY, settings=settings)
        assert day.dropped.empty
        assert {ws.warehouse_id for ws in day.solves} == {1, 2, 3}
        for ws in day.solves:
            assert check.violations(ws.problem, ws.plan) == []
            # each plan belongs to its own warehouse's problem
            assert {i for r in ws.plan.routes for i in r.stops} == set(ws.problem.stops)
    with pytest.raises(ValueError, match="workers"):
        dispatch.DispatchSettings(workers=0)


def test_two_warehouses_use_their_own_vehicles():
    """Each warehouse's stops are served by that warehouse's vans."""
    con = build_day(n_pickups=10, n_warehouses=2, vans_per_warehouse=2, seed=4)
    day = dispatch.plan_day(con, DELIVERY, settings=FAST)
    home = con.execute("SELECT vehicle_id, warehouse_id FROM vehicles").df()
    merged = day.route_stops.merge(home, on="vehicle_id", suffixes=("", "_van"))
    assert (merged["warehouse_id"] == merged["warehouse_id_van"]).all()
    assert {ws.warehouse_id for ws in day.solves} == {1, 2}


def test_settings_validate_and_load_from_toml(tmp_path):
    """Bad settings raise; a TOML [dispatch] table overrides defaults; speed bands apply."""
    with pytest.raises(ValueError, match="detour_factor"):
        dispatch.DispatchSettings(detour_factor=0.9)
    with pytest.raises(ValueError, match="sorted"):
        dispatch.DispatchSettings(speed_bands=((0, 30), (600, 20), (500, 10)))
    path = tmp_path / "s.toml"
    path.write_text("[dispatch]\ndetour_factor = 1.5\nspeed_bands = [[0, 40], [420, 20]]\n")
    s = dispatch.DispatchSettings.from_toml(path)
    assert s.detour_factor == 1.5
    assert s.speed_kmh(300, 400) == 40 and s.speed_kmh(300, 500) == 20
    path.write_text("[dispatch]\nspeed = 3\n")
    with pytest.raises(ValueError, match="unknown"):
        dispatch.DispatchSettings.from_toml(path)


def test_slower_rush_hour_speed_lengthens_routes_in_time(day_db):
    """Halving every speed band makes the day take longer (travel times follow the bands)."""
    fast = dispatch.plan_day(day_db.cursor(), DELIVERY, settings=FAST)
    slow_bands = tuple((m, v / 2) for m, v in FAST.speed_bands)
    slow = dispatch.plan_day(
        day_db.cursor(),
        DELIVERY,
        settings=dispatch.DispatchSettings(time_limit_s=1, speed_bands=slow_bands),
    )
    span = lambda d: (d.routes["return_min"] - d.routes["depart_min"]).sum()  # noqa: E731
    assert span(slow) > span(fast)


def test_exports_hold_every_vehicle_and_escape_text(day):
    """HTML lists every plate and escapes names; Excel has the five sheets; CSV has a BOM."""
    page = export.to_html(day)
    for plate in day.routes["plate"]:
        assert plate in page
    assert "<script" not in page
    book = openpyxl.load_workbook(io.BytesIO(export.to_excel(day)))
    assert book.sheetnames == ["routes", "stops", "loading", "picking", "dropped"]
    picking = pd.read_excel(
        io.BytesIO(export.to_excel(day)), sheet_name="picking", engine="calamine"
    )
    assert picking["qty"].sum() == day.lines["qty"].sum()
    csv = export.to_csv(day)
    assert csv["loading"].startswith("\ufeff".encode())


def test_formula_like_text_is_neutralised_in_exports():
    """A name starting with '=' is text in CSV/Excel; markup in a name is escaped in HTML."""
    con = build_day(n_pickups=3, seed=1)
    con.execute("UPDATE pickup_points SET name = '=HYPERLINK(\"x\")' WHERE pickup_id = 1")
    con.execute("UPDATE pickup_points SET name = '<script>x()</script>' WHERE pickup_id = 2")
    day = dispatch.plan_day(con, DELIVERY, settings=FAST)
    csv = export.to_csv(day)["picking"].decode("utf-8-sig")
    assert "'=HYPERLINK" in csv
    page = export.to_html(day)
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>" not in page
    sheet = openpyxl.load_workbook(io.BytesIO(export.to_excel(day)))["picking"]
    names = {row[1].value for row in sheet.iter_rows(min_row=2)}
    assert '\'=HYPERLINK("x")' in names


@pytest.fixture(scope="module")
def world_day(world):
    """Tomorrow's plan (orders of the world's as-of day) on the generated small world."""
    return dispatch.plan_day(world.cursor(), clock.next_delivery_day(world.cursor()), settings=FAST)


def test_world_plan_serves_every_order_or_lists_reasons(world, world_day):
    """Every paid order of the as-of day is on a route or its stop is dropped with a reason."""
    as_of = dt.date.fromisoformat(db.get_meta(world.cursor(), "as_of"))
    assert world_day.order_date == as_of
    paid = (
        world.cursor()
        .execute(
            """SELECT DISTINCT o.order_id, o.pickup_id FROM orders o JOIN order_items oi USING (order_id)
           WHERE o.order_date = ? AND o.status = 'paid'
             AND oi.qty > CASE WHEN oi.refund_reason = 'group_failed' THEN oi.refund_qty ELSE 0 END""",
            [as_of],
        )
        .df()
    )
    assert len(paid) > 0
    routed = set(world_day.route_stops["stop_key"])
    dropped = world_day.dropped.set_index("stop_key")["reason"]
    per_order = world_day.lines.groupby("order_id")["stop_key"].agg(set)
    assert set(per_order.index) == set(paid["order_id"])
    for keys in per_order:
        for key in keys:
            assert key in routed or dropped.get(key, "") != ""
    for ws in world_day.solves:
        assert check.violations(ws.problem, ws.plan) == []


def test_world_pick_lists_add_up_to_order_lines(world, world_day):
    """Units per pickup point and SKU in the pick list equal the shipped order-line units."""
    truth = (
        world.cursor()
        .execute(
            """SELECT o.pickup_id, oi.sku_id,
                      SUM(oi.qty - CASE WHEN oi.refund_reason = 'group_failed'
                                        THEN oi.refund_qty ELSE 0 END) AS qty
               FROM orders o JOIN order_items oi USING (order_id)
               WHERE o.order_date = ? AND o.status = 'paid' GROUP BY ALL HAVING qty > 0""",
            [world_day.order_date],
        )
        .df()
        .set_index(["pickup_id", "sku_id"])["qty"]
    )
    picking = lists.pick_list(world_day).groupby(["pickup_id", "sku_id"])["qty"].sum()
    assert picking.to_dict() == {k: int(v) for k, v in truth.items()}
    loading = lists.loading_list(world_day)["qty"].sum()
    not_routed = world_day.lines[
        ~world_day.lines["stop_key"].isin(world_day.route_stops["stop_key"])
    ]["qty"].sum()
    assert loading + not_routed == truth.sum()


def test_pinned_pickup_rides_the_chosen_vehicle():
    """Pinning a pickup point to a refrigerated van puts both its stops on that van."""
    con = build_day(n_pickups=8, seed=6)
    free = dispatch.plan_day(con, DELIVERY, settings=FAST)
    pid = int(free.route_stops["pickup_id"].iloc[0])
    current = set(free.route_stops.loc[free.route_stops["pickup_id"] == pid, "vehicle_id"])
    target = 3 if current == {1} else 1  # vans 1 and 3 are the refrigerated ones
    day = dispatch.plan_day(con, DELIVERY, settings=FAST, pins={pid: target})
    rows = day.route_stops[day.route_stops["pickup_id"] == pid]
    assert set(rows["vehicle_id"]) == {target}
    assert len(rows) == len(free.route_stops[free.route_stops["pickup_id"] == pid])
    for ws in day.solves:
        assert check.violations(ws.problem, ws.plan) == []


def test_pin_to_a_dry_van_drops_the_cold_part_with_reason():
    """A pin to a non-refrigerated van leaves the chilled part unplanned, saying why."""
    con = build_day(n_pickups=6, seed=6)
    day = dispatch.plan_day(con, DELIVERY, settings=FAST, pins={1: 2})  # van 2 is dry
    codes = dict(zip(day.dropped["stop_key"], day.dropped["code"], strict=True))
    assert codes.get("1:cold") == "no_allowed"
    assert set(day.route_stops.loc[day.route_stops["pickup_id"] == 1, "vehicle_id"]) <= {2}
