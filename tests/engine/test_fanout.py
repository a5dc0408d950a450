"""Fan-out on Spark (engine.fanout): forecast training per region and routing per warehouse
give exactly what the single-machine loop gives, Spark local[2] against the loop."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine import fanout, routing
from engine.forecasting import fanout as fc_fanout
from engine.routing import dispatch
from engine.routing import fanout as rt_fanout

pytestmark = pytest.mark.xdist_group("spark")

DELIVERY = dt.date(2026, 11, 25)  # the small world's orders end on 2026-11-24


@pytest.fixture(scope="module")
def day(world):
    """The small world's stops of the last delivery day and its fleet."""
    return rt_fanout.day_stops(world.cursor(), DELIVERY)


def test_routes_per_warehouse_identical_on_spark(day, spark):
    """Per-warehouse routes on Spark local[2] equal the loop's exactly (fixed iteration budget)."""
    stops, vans = day
    assert stops["warehouse_id"].nunique() >= 2
    local = rt_fanout.route_day(stops, vans, "local", iterations=500)
    remote = rt_fanout.route_day(stops, vans, "spark", iterations=500, session=spark)
    assert set(local["stop_key"]) == set(stops["stop_key"])
    assert (local["kind"] == "visit").sum() > 0
    pd.testing.assert_frame_equal(remote, local)


def test_fixed_iteration_budget_is_reproducible(day):
    """The same iteration budget and seed give the same routes twice; the loop is the function
    called once per warehouse."""
    stops, vans = day
    first = rt_fanout.route_day(stops, vans, iterations=300)
    pd.testing.assert_frame_equal(rt_fanout.route_day(stops, vans, iterations=300), first)
    wh = int(stops["warehouse_id"].min())
    one = rt_fanout.route_warehouse(stops[stops["warehouse_id"] == wh], vans, iterations=300)
    mine = first[first["warehouse_id"] == wh].reset_index(drop=True)
    one = one.sort_values(["kind", "route", "seq", "stop_key"], ignore_index=True)
    pd.testing.assert_frame_equal(mine, one)


@pytest.mark.scale
def test_forecast_per_region_identical_on_spark(world, spark):
    """Per-region forecasts on Spark local[2] are bit-identical to the loop's (same seed)."""
    frame, hol = fc_fanout.training_frame(world.cursor())
    settings = dataclasses.replace(fc_fanout.SETTINGS, n_estimators=40)
    local = fc_fanout.train(frame, hol, "local", seed=3, settings=settings)
    remote = fc_fanout.train(frame, hol, "spark", seed=3, settings=settings, session=spark)
    assert local[fc_fanout.GROUP].nunique() >= 2
    assert set(local["unique_id"]) == set(frame["unique_id"])
    assert np.isfinite(local["yhat"]).all() and local["yhat"].gt(0).any()
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_fit_region_is_the_loop_body(world):
    """The loop is fit_region called per region: one region's rows alone give its forecasts."""
    frame, hol = fc_fanout.training_frame(world.cursor())
    settings = dataclasses.replace(fc_fanout.SETTINGS, n_estimators=10, max_train_rows=5_000)
    region = int(frame[fc_fanout.GROUP].min())
    part = frame[frame[fc_fanout.GROUP] == region]
    ids = sorted(part["unique_id"].unique())[:40]
    small = frame[frame["unique_id"].isin(ids)]
    looped = fc_fanout.train(small, hol, seed=1, settings=settings)
    alone = fc_fanout.fit_region(small, seed=1, settings=settings, holidays=hol)
    alone = alone.sort_values(["unique_id", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(looped, alone, check_exact=True)
    with pytest.raises(ValueError, match="one region's rows"):
        fc_fanout.fit_region(frame, settings=settings, holidays=hol)


def test_fanout_run_rejects_bad_input():
    """Unknown engines, a missing grouping column and an empty frame raise ValueError."""
    frame = pd.DataFrame({"g": [1, 2], "x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="engine must be one of"):
        fanout.run(frame, "g", lambda f: f, "g long, x double", engine="ray")
    with pytest.raises(ValueError, match="grouping column"):
        fanout.run(frame, "h", lambda f: f, "g long, x double")
    with pytest.raises(ValueError, match="empty"):
        fanout.run(frame.iloc[:0], "g", lambda f: f, "g long, x double")


def test_iteration_budget_bad_values_raise(day):
    """A non-positive iteration budget, or one asked of OR-Tools, raises ValueError."""
    stops, vans = day
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        rt_fanout.route_day(stops, vans, iterations=0)
    wh = int(stops["warehouse_id"].min())
    part = stops[stops["warehouse_id"] == wh]
    depot = (float(part["depot_lat"].iloc[0]), float(part["depot_lon"].iloc[0]))
    problem = dispatch.build_problem(
        part.reset_index(drop=True),
        depot,
        vans[vans["warehouse_id"] == wh].reset_index(drop=True),
        dispatch.DispatchSettings(),
    )
    with pytest.raises(ValueError, match="PyVRP only"):
        routing.solve(problem, 1.0, solver="ortools", iterations=100)
    with pytest.raises(ValueError, match="one warehouse's stops"):
        rt_fanout.route_warehouse(stops, vans)
