"""Shared fixtures: one small generated world per test session."""

from __future__ import annotations

import os
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
def world_file(tmp_path_factory) -> Path:
    """The `small` world (seed 7) as a DuckDB file, for app and process tests."""
    path = tmp_path_factory.mktemp("world") / "linli-small.duckdb"
    con = generate.generate(path, scale="small", seed=WORLD_SEED)
    con.close()
    return path


@pytest.fixture
def app_env(world_file, monkeypatch):
    """Point the app at a copy-free small world and the demo auth mode."""
    monkeypatch.setenv("LINLI_DB", str(world_file))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", os.environ.get("LINLI_TEST_MQTT_URL", "none"))
    return world_file
