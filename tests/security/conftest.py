"""Fixtures for the hostile-input suite (issue 20); fuzzers take their settings from profile.py."""

from __future__ import annotations

import pytest

from engine import db
from tests.connectors.conftest import seed
from tests.pages.conftest import app  # noqa: F401 - a fixture, found by name


@pytest.fixture
def linli():
    """A fresh in-memory Linli database with the connector tests' reference rows."""
    con = db.connect(":memory:")
    seed(con)
    yield con
    con.close()
