"""Frequent itemsets on Apache Spark: MLlib's FP-Growth (``pyspark.ml.fpm.FPGrowth``).

The same counts as :func:`engine.basket.mining.itemset_counts`, so the rules built from them
(:func:`engine.basket.association.rules_from_counts`) are identical to the single-machine
path. Three things make that exact rather than approximate:

- Spark keeps an itemset when ``freq >= ceil(minSupport * baskets)``, a float product.
  The integer threshold is computed here as arules does (``ceil(s * orders)``), and
  ``minSupport = (threshold - 0.5) / baskets`` lands Spark's ceiling on exactly that
  integer whatever the rounding of the division.
- Confidence is never taken from Spark (``minConfidence`` also compares floats): rules are
  built on the driver from the integer counts.
- Baskets are pruned and capped as the local miners do: rare items dropped, a basket longer
  than ``Limits.max_basket_items`` keeps its most frequent items (ties: smaller label first),
  and single-item counts are those of the uncapped baskets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine import spark as sparkmod
from engine.basket import mining
from engine.basket.mining import Limits


def _check(transactions: Any) -> None:
    """Raise ValueError unless ``transactions`` is a usable pandas or Spark DataFrame."""
    if isinstance(transactions, pd.DataFrame):
        mining.check_transactions(transactions)
        return
    columns = getattr(transactions, "columns", None)
    if columns is None or not hasattr(transactions, "groupBy"):
        raise ValueError(
            "transactions must be a pandas or Spark DataFrame with columns order_id, item; "
            f"got {type(transactions).__name__}"
        )
    missing = [c for c in ("order_id", "item") if c not in columns]
    if missing:
        raise ValueError(f"transactions lacks column(s) {missing}; expected order_id, item")


def _lines(transactions: Any, session: Any) -> Any:
    """``order_id, item`` lines as a Spark DataFrame (pandas frames are uploaded)."""
    if isinstance(transactions, pd.DataFrame):
        tx = transactions[["order_id", "item"]]
        if isinstance(tx["item"].dtype, pd.CategoricalDtype):
            # Arrow would send the categories' dictionary; Spark wants the plain values.
            tx = tx.assign(item=np.asarray(tx["item"].astype(tx["item"].cat.categories.dtype)))
        return session.createDataFrame(tx)
    return transactions.select("order_id", "item").dropna()


def itemset_counts(
    transactions: Any,
    min_support: float,
    max_len: int | None,
    limits: Limits,
    session: Any = None,
) -> tuple[np.ndarray, dict[tuple[int, ...], int], int]:
    """Order counts of every frequent itemset, mined by Spark MLlib's FP-Growth.

    Parameters
    ----------
    transactions
        One row per order line, ``order_id, item``: a pandas DataFrame (uploaded to Spark)
        or a Spark DataFrame (left where it is). Duplicate lines are ignored.
    min_support
        Minimum support in (0, 1]; frequent means ``count >= ceil(min_support * orders)``.
    max_len
        Largest itemset size; ``None`` for no limit (FP-Growth mines every length; longer
        ones are left out before they reach the driver).
    limits
        ``max_basket_items`` caps basket length as the local miners do; ``max_candidates``
        bounds the number of itemsets brought to the driver.
    session
        A SparkSession; ``None`` uses :func:`engine.spark.session`.

    Returns
    -------
    tuple
        Item labels by code (sorted), a dict from sorted code tuples to order counts, and
        the number of orders.

    Raises
    ------
    ValueError
        On malformed transactions, or more frequent itemsets than ``limits.max_candidates``.
    engine.spark.SparkUnavailableError
        When Spark cannot start here.
    """
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    _check(transactions)
    spark = session or sparkmod.session()
    # One shuffle builds the baskets (a set per order); every later step reads them cached,
    # in as many partitions as the cluster has cores.
    cores = max(1, spark.sparkContext.defaultParallelism)
    orders = (
        _lines(transactions, spark)
        .groupBy("order_id")
        .agg(F.collect_set("item").alias("items"))
        .coalesce(cores)
        .cache()
    )
    baskets = None
    try:
        shape = orders.agg(F.count("*").alias("n"), F.max(F.size("items")).alias("longest"))
        first = shape.first()
        n = int(first["n"]) if first is not None else 0
        if n == 0:
            raise ValueError("transactions is empty: there are no orders to analyse")
        longest = int(first["longest"]) if first is not None else 0
        threshold = mining.min_count(min_support, n)
        singles = (
            orders.select(F.explode("items").alias("item"))
            .groupBy("item")
            .agg(F.count("*").alias("n"))
            .where(F.col("n") >= threshold)
        ).toPandas()
        labels = np.asarray(sorted(singles["item"].tolist()), dtype=object)
        code = {label: k for k, label in enumerate(labels)}
        counts: dict[tuple[int, ...], int] = {
            (code[i],): int(c) for i, c in zip(singles["item"], singles["n"], strict=True)
        }
        if len(labels) < 2 or (max_len is not None and max_len < 2):
            return labels, dict(sorted(counts.items())), n
        keep = F.array(*[F.lit(label) for label in labels])
        baskets = orders.select(F.array_intersect("items", keep).alias("items"))
        if longest > limits.max_basket_items:
            baskets = _capped(orders, singles, limits.max_basket_items, spark)
        baskets = baskets.where(F.size("items") >= 2).cache()
        m = baskets.count()
        if m < threshold:  # no pair can reach the threshold
            return labels, dict(sorted(counts.items())), n
        model = FPGrowth(itemsCol="items", minSupport=(threshold - 0.5) / m).fit(baskets)
        found = model.freqItemsets.where(F.size("items") >= 2)
        if max_len is not None:
            found = found.where(F.size("items") <= max_len)
        # Mined once: the count (the guard) and the transfer would each re-run FP-Growth.
        found = found.cache()
        try:
            total = found.count()
            if total > limits.max_candidates:
                raise ValueError(
                    f"request too large: {total:,} frequent itemsets of two or more items "
                    f"(limit {limits.max_candidates:,}); raise min_support, set max_len, or "
                    "narrow the scope"
                )
            mined: pd.DataFrame = found.toPandas()
        finally:
            found.unpersist()
        for items, freq in zip(mined["items"], mined["freq"], strict=True):
            counts[tuple(sorted(code[i] for i in items))] = int(freq)
        return labels, dict(sorted(counts.items(), key=lambda kv: (len(kv[0]), kv[0]))), n
    finally:
        if baskets is not None:
            baskets.unpersist()
        orders.unpersist()


def _capped(orders: Any, singles: pd.DataFrame, cap: int, spark: Any) -> Any:
    """Baskets of frequent items only, each cut to its ``cap`` most frequent (ties: label)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    frequent = spark.createDataFrame(singles)
    rank = Window.partitionBy("order_id").orderBy(F.desc("n"), F.asc("item"))
    return (
        orders.select("order_id", F.explode("items").alias("item"))
        .join(F.broadcast(frequent), "item")
        .withColumn("rank", F.row_number().over(rank))
        .where(F.col("rank") <= cap)
        .groupBy("order_id")
        .agg(F.collect_list("item").alias("items"))
    )
