"""Fan-out: one function over the groups of a frame, in a loop here or on Spark executors.

The batch layer runs independent pieces of work (one forecast model per region, one
routing problem per warehouse) through :func:`run`. ``engine="local"`` calls the function
on each group in turn in this process; ``engine="spark"`` hands the same function to
``groupBy().applyInPandas`` on the shared session (:mod:`engine.spark`). The function must
be importable module-level code (or a ``functools.partial`` of it) taking and returning
plain pandas frames, so both paths run the same code on the same input: with seeded work the
results are identical, and each caller's tests check that.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from engine import spark as sparkmod

ENGINES = ("local", "spark")


def run(
    frame: pd.DataFrame,
    by: str,
    func: Callable[[pd.DataFrame], pd.DataFrame],
    schema: str,
    engine: str = "local",
    session: Any = None,
) -> pd.DataFrame:
    """Apply ``func`` to each group of ``frame`` by column ``by`` and stack the results.

    Parameters
    ----------
    frame
        The input, one row per unit of work's row (plain columns: numbers, bools, text,
        timestamps; no categoricals).
    by
        The grouping column; each group is one call of ``func``.
    func
        Module-level function (or partial) from a group's rows to a result frame whose
        columns are those of ``schema``.
    schema
        The result's Spark DDL schema, e.g. ``"region_id long, ds timestamp, yhat double"``.
    engine
        ``"local"`` (a loop in this process, groups in ascending order of ``by``) or
        ``"spark"`` (``applyInPandas`` on the shared session).
    session
        A SparkSession for ``engine="spark"``; ``None`` uses :func:`engine.spark.session`.

    Returns
    -------
    pandas.DataFrame
        The results of every group, in no guaranteed row order (callers sort).

    Raises
    ------
    ValueError
        On an unknown engine, a missing grouping column or an empty frame.
    engine.spark.SparkUnavailableError
        When ``engine="spark"`` and Spark cannot start here.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    if by not in frame.columns:
        raise ValueError(f"frame lacks the grouping column {by!r} (has {list(frame.columns)})")
    if frame.empty:
        raise ValueError("frame is empty: there is nothing to fan out")
    if engine == "local":
        parts = [func(part.reset_index(drop=True)) for _, part in frame.groupby(by, sort=True)]
        return pd.concat(parts, ignore_index=True)
    spark = session or sparkmod.session()
    # One task per group: with fewer partitions than groups, two groups would share a core.
    groups = int(frame[by].nunique())
    # Range partitioning gives each of that many keys its own task (hashing may pair two).
    sdf = spark.createDataFrame(frame).repartitionByRange(groups, by)
    with warnings.catch_warnings():
        # pyspark reads type hints to guess the UDF kind; a partial has none (the kind is
        # known: grouped map), and it would warn on every call.
        warnings.filterwarnings("ignore", "Cannot infer the eval type", UserWarning)
        grouped = sdf.groupBy(by).applyInPandas(func, schema)
    return grouped.toPandas()
