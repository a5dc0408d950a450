"""The Parquet lake and the batch build of the serving tables (docs/scale.md).

:func:`export` writes a database's input and fact tables as Hive-partitioned Parquet,
:func:`append` folds a daily load into it, :func:`attach` lets DuckDB query it read-only, and
:func:`build` computes the serving tables (rollups, per-user-day features, daily sales) on
DuckDB or Apache Spark from one set of formulas (:mod:`engine.lake.formulas`).
"""

from __future__ import annotations

from engine.lake.build import ENGINES, build, check_lake
from engine.lake.export import PARTITIONS, TABLES, LakeError, append, export
from engine.lake.views import attach, source, tables

__all__ = [
    "ENGINES",
    "PARTITIONS",
    "TABLES",
    "LakeError",
    "append",
    "attach",
    "build",
    "check_lake",
    "export",
    "source",
    "tables",
]
