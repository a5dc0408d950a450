"""Shared fixtures: one small generated world per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from data import generate

WORLD_SEED = 7


@pytest.fixture(scope="session")
def world() -> duckdb.DuckDBPyConnection:
    """The `small` world (seed 7) in memory; tests read it through ``world.cursor()``."""
    con = generate.generate(":memory:", scale="small", seed=WORLD_SEED)
    yield con
    con.close()


@pytest.fixture(scope="session")
def explored_world() -> duckdb.DuckDBPyConnection:
    """The `small` world (seed 7) whose past listings were priced at random fractions of list
    in ``generate.PRICE_TESTS`` (a platform running price tests)."""
    con = generate.generate(
        ":memory:", scale="small", seed=WORLD_SEED, price_exploration=generate.PRICE_TESTS
    )
    yield con
    con.close()


@pytest.fixture(scope="session")
def world_file(tmp_path_factory) -> Path:
    """The `small` world (seed 7) as a DuckDB file, for app and process tests."""
    path = tmp_path_factory.mktemp("world") / "linli-small.duckdb"
    con = generate.generate(path, scale="small", seed=WORLD_SEED)
    con.close()
    return path


@pytest.fixture(scope="module")
def private_world_file(world_file, tmp_path_factory) -> Path:
    """A module's own copy of the small world file: another test in the same process may hold
    the shared file open read-write, and DuckDB refuses a read-only connection beside it."""
    copy = tmp_path_factory.mktemp("world-copy") / "linli-small.duckdb"
    shutil.copy(world_file, copy)
    return copy


# Tables a new operator's database holds besides the input tables: not emptied.
SYSTEM_TABLES = (
    "schema_version",
    "meta",
    "app_users",
    "audit_log",
    "import_log",
    "import_quarantine",
)


@pytest.fixture(scope="session")
def core_world_file(world_file, tmp_path_factory) -> Path:
    """The small world with only the core input tables filled: every other table emptied
    (campaign ids cleared from order lines), rollups rebuilt, as an operator's first load."""
    from engine import afterload, availability

    path = tmp_path_factory.mktemp("core") / "linli-core.duckdb"
    shutil.copy(world_file, path)
    con = duckdb.connect(str(path))
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    keep = set(availability.CORE_TABLES) | set(SYSTEM_TABLES)
    for name in names:
        if name not in keep and not name.startswith("rollup_"):
            con.execute(f'DELETE FROM "{name}"')
    con.execute("UPDATE order_items SET campaign_id = NULL")
    afterload.rebuild(con)
    con.close()
    return path


@pytest.fixture
def core_app_env(core_world_file, monkeypatch):
    """Point the app at the core-tables-only world, demo auth, no live telemetry."""
    monkeypatch.setenv("LINLI_DB", str(core_world_file))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    return core_world_file


@pytest.fixture
def app_env(world_file, monkeypatch):
    """Point the app at a copy-free small world and the demo auth mode."""
    monkeypatch.setenv("LINLI_DB", str(world_file))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", os.environ.get("LINLI_TEST_MQTT_URL", "none"))
    return world_file


def _store_fit(path: Path) -> None:
    """Fit and store the demand model as the background job leaves it (pages never fit)."""
    from engine import dataset
    from engine import db as dbmod
    from engine.forecasting import store

    con = dbmod.connect(path)
    try:
        store.ensure(con, dataset.version(con))
    finally:
        con.close()


@pytest.fixture(scope="session")
def fitted_world_file(world_file) -> Path:
    """The small world with its demand model stored (the forecast page's precondition)."""
    _store_fit(world_file)
    return world_file


@pytest.fixture(scope="session")
def fitted_core_world_file(core_world_file) -> Path:
    """The core-tables-only world with its demand model stored (from derived listings)."""
    _store_fit(core_world_file)
    return core_world_file


@pytest.fixture(scope="session")
def spark():
    """One local Spark session per test run (start-up ~10 s); skips, saying why, without Java."""
    from engine import spark as sparkmod

    why = sparkmod.java_missing()
    if why:
        print(f"SKIP Spark tests: {why}")
        pytest.skip(f"Spark unavailable: {why}")
    try:
        session = sparkmod.session("linli-tests")
    except sparkmod.SparkUnavailableError as exc:
        print(f"SKIP Spark tests: {exc}")
        pytest.skip(f"Spark unavailable: {exc}")
    yield session
    sparkmod.stop()
