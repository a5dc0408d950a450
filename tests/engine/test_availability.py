"""Graceful degradation on a core-tables-only database, and the data-health table."""

from __future__ import annotations

import shutil
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from connectors import files
from engine import availability, clock, kpis, planning
from engine.forecasting import demand
from engine.pricing import response


@pytest.fixture(scope="module")
def core(core_world_file, tmp_path_factory):
    """A connection to a private copy of the core-tables-only small world (the app tests of
    the same session may hold the shared file open)."""
    path = tmp_path_factory.mktemp("core-engine") / "core.duckdb"
    shutil.copy(core_world_file, path)
    con = duckdb.connect(str(path))
    yield con
    con.close()


def test_registry_names_only_input_tables():
    """Every table a feature needs is an optional input table, never a core one."""
    needed = {t for ts in availability.FEATURES.values() for t in ts}
    assert needed <= set(availability.OPTIONAL_TABLES)
    assert not set(availability.CORE_TABLES) & set(availability.OPTIONAL_TABLES)


def test_full_world_has_no_gaps(world):
    """The generated world fills every input table: no feature is switched off."""
    assert availability.gaps(world.cursor()) == []
    assert availability.missing(world.cursor(), "pricing") == ()


def test_core_world_gaps_name_the_empty_tables(core):
    """On the core tables alone each feature reports exactly its empty tables."""
    found = {g.feature: g.tables for g in availability.gaps(core)}
    assert set(found) == set(availability.FEATURES)
    assert found["pricing"] == ("campaigns",)
    assert found["kpi_nps"] == ("feedback",)
    assert found["rule_signals"] == ("browse_events", "inventory", "topics")
    with pytest.raises(ValueError, match="unknown feature"):
        availability.missing(core, "teleport")


def test_require_raises_with_table_and_how_to_load(core):
    """require() raises a MissingDataError naming the feature, the table and its file."""
    with pytest.raises(availability.MissingDataError) as err:
        availability.require(core, "dispatch")
    assert err.value.feature == "dispatch" and err.value.tables == ("vehicles",)
    assert "vehicles.csv" in str(err.value) and "connectors.load" in str(err.value)


def test_pricing_and_plan_say_what_is_missing(core):
    """pricing.fit and planning.build stop with MissingDataError, not 'no campaigns…'."""
    with pytest.raises(availability.MissingDataError, match="campaigns"):
        response.fit(core)
    with pytest.raises(availability.MissingDataError, match="campaigns"):
        planning.build(core, clock.next_delivery_day(core))


def test_kpis_without_optional_tables_are_empty_not_zero(core):
    """成团率, NPS and the stock KPIs are None (shown as —), sales KPIs still computed."""
    end = clock.as_of(core)
    summ = kpis.summary(core, date(end.year, end.month, 1), end).set_index("kpi")["value"]
    for key in ("group_success_rate", "nps", "loss_rate", "inventory_turnover_days"):
        assert pd.isna(summ[key]), key
        assert availability.missing(core, "kpi_" + key)
    assert summ["gmv"] > 0 and summ["paid_orders"] > 0


def test_history_derives_listings_from_orders(core, world):
    """Without campaigns, demand.history keeps every unit sold and says it derived listings."""
    data = demand.history(core)
    assert "listings_from_orders" in data.derived and "no_weather" in data.derived
    assert "tmax" not in data.frame.columns
    sold = core.execute(
        "SELECT sum(i.qty) FROM order_items i JOIN orders o USING (order_id) "
        "WHERE o.status <> 'cancelled'"
    ).fetchone()[0]
    assert data.frame["y"].sum() == pytest.approx(sold)
    # Every day with sales is a listed day; days without sales are not invented as listed.
    assert (data.frame.loc[data.frame["y"] > 0, "listed"] >= 1).all()
    assert not data.frame["censored"].any()
    assert demand.history(world.cursor()).derived == ()


def test_health_counts_rows_dates_loads_and_quarantine(core_world_file, tmp_path):
    """health() matches count(*), the order span, the import log and quarantined rows."""
    path = tmp_path / "h.duckdb"
    shutil.copy(core_world_file, path)
    con = duckdb.connect(str(path))
    users = "user_id,community_id,signup_date\n900001,1,2026-01-05\n900002,99999,2026-01-05\n"
    content = files.read(users.encode(), name="users.csv")
    report = files.import_content(con, content, now=datetime(2026, 12, 1))
    assert report.rows_loaded == 1 and report.rows_rejected == 1
    h = availability.health(con).set_index("table")
    for name in availability.INPUT_TABLES:
        assert h.at[name, "rows"] == con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
    first, last = clock.order_span(con)
    assert (h.at["orders", "first_date"], h.at["orders", "last_date"]) == (first, last)
    assert (h.at["order_items", "first_date"], h.at["order_items", "last_date"]) == (first, last)
    assert h.at["users", "quarantined"] == 1 and h.at["orders", "quarantined"] == 0
    assert pd.notna(h.at["users", "last_load"]) and pd.isna(h.at["orders", "last_load"])
    assert "pricing" in h.at["campaigns", "unavailable"] and h.at["orders", "unavailable"] == ""
    assert bool(h.at["orders", "core"]) and not bool(h.at["campaigns", "core"])
    con.close()
