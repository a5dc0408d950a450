"""The app's one DuckDB connection (the Streamlit process owns the file) and its cursors."""

from __future__ import annotations

import duckdb
import streamlit as st

from engine import dataset
from engine import db as dbmod


@st.cache_resource(show_spinner=False)
def connection() -> duckdb.DuckDBPyConnection:
    """Open the configured database once per process."""
    return dbmod.connect(dbmod.db_path())


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of the shared connection; use one per thread or script run."""
    return connection().cursor()


def data_version() -> str:
    """A token that changes when the data change, for cache keys."""
    return dataset.version(cursor())
