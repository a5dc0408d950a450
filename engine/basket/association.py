"""Association rules, item support, "also bought" and bundles from basket transactions.

Rules follow R arules' ``apriori`` semantics so that figures compare with the literature:
an itemset is frequent when its support is at least ``min_support`` (count
``>= ceil(min_support * n_orders)``), a rule's length counts both sides, and by default the
consequent is a single item. Mining lives in :mod:`engine.basket.mining` (mlxtend's public
FP-growth, or sparse level-wise counting for large inputs), guarded against memory blow-up
(see :class:`engine.basket.mining.Limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from engine.basket import mining
from engine.basket.mining import Limits

DEFAULT_LIMITS = Limits()
# Where itemsets are counted: this process, or Spark MLlib's FP-Growth (engine.basket.fpgrowth).
ENGINES = ("local", "spark")

RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
]


def frequent_itemsets(
    transactions: pd.DataFrame,
    min_support: float,
    max_len: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    method: str = "auto",
    engine: str = "local",
) -> pd.DataFrame:
    """Frequent itemsets with support at least ``min_support``.

    Parameters
    ----------
    transactions
        One row per order line, columns ``order_id`` and ``item``; duplicates are ignored.
    min_support
        Minimum support in (0, 1].
    max_len
        Largest itemset size; ``None`` for no limit.
    limits
        Memory guards.
    method
        How itemsets of three or more items are mined: ``"mlxtend"`` (mlxtend's FP-growth),
        ``"sparse"`` (level-wise exact counting with sparse matrix products) or ``"auto"``
        (mlxtend unless more than ``AUTO_MLXTEND_MAX_BASKETS`` baskets remain). Pairs are
        always counted exactly from ``X'X``; all methods give identical results.
    engine
        ``"local"`` (this process, by ``method``) or ``"spark"``: Spark MLlib's FP-Growth on
        the shared session (:mod:`engine.basket.fpgrowth`; ``method`` is then ignored, and
        ``transactions`` may also be a Spark DataFrame). Counts, and so results, are
        identical.

    Returns
    -------
    pandas.DataFrame
        Columns ``itemsets`` (frozenset), ``support``, ``count``, by support descending.

    Raises
    ------
    ValueError
        On malformed input or when the request exceeds ``limits``.
    """
    mining.check_fraction("min_support", min_support, allow_zero=False)
    mining.check_len(1, max_len)
    mining.check_method(method)
    labels, counts, n = _counts(transactions, min_support, max_len, limits, method, engine)
    rows = [(frozenset(labels[list(s)]), c / n, c) for s, c in counts.items()]
    out = pd.DataFrame(rows, columns=["itemsets", "support", "count"])
    return out.sort_values("support", ascending=False, kind="stable").reset_index(drop=True)


def rules(
    transactions: pd.DataFrame,
    min_support: float,
    min_confidence: float,
    min_len: int = 2,
    max_len: int | None = None,
    single_consequent: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    method: str = "auto",
    engine: str = "local",
) -> pd.DataFrame:
    """Association rules in the manner of R arules' ``apriori``.

    Parameters
    ----------
    transactions
        One row per order line, columns ``order_id`` and ``item``; duplicates are ignored.
    min_support
        Minimum rule support (support of antecedent and consequent together), in (0, 1].
    min_confidence
        Minimum confidence, in [0, 1].
    min_len
        Minimum rule length, counting antecedent and consequent items. ``1`` admits rules
        with an empty antecedent, ``{} => {item}``, as arules does.
    max_len
        Maximum rule length; ``None`` for no limit (arules' default is 10).
    single_consequent
        ``True`` (arules) for exactly one consequent item; ``False`` for every split of an
        itemset into non-empty antecedent and consequent (mlxtend).
    limits
        Memory guards.
    method
        How itemsets of three or more items are mined: ``"mlxtend"`` (mlxtend's FP-growth),
        ``"sparse"`` (level-wise exact counting with sparse matrix products) or ``"auto"``
        (mlxtend unless more than ``AUTO_MLXTEND_MAX_BASKETS`` baskets remain). Pairs are
        always counted exactly from ``X'X``; all methods give identical results.
    engine
        ``"local"`` (this process, by ``method``) or ``"spark"``: Spark MLlib's FP-Growth on
        the shared session (:mod:`engine.basket.fpgrowth`; ``method`` is then ignored, and
        ``transactions`` may also be a Spark DataFrame). Counts, and so results, are
        identical.

    Returns
    -------
    pandas.DataFrame
        Columns ``antecedents``, ``consequents`` (frozensets), ``support``, ``confidence``,
        ``lift``, ``leverage``, ``conviction`` (``inf`` at confidence 1) and ``count``
        (orders with all items), sorted by lift, then confidence and support, descending.

    Raises
    ------
    ValueError
        On malformed input, thresholds outside their interval, or a request exceeding
        ``limits``.
    """
    mining.check_fraction("min_support", min_support, allow_zero=False)
    mining.check_fraction("min_confidence", min_confidence, allow_zero=True)
    mining.check_len(min_len, max_len)
    mining.check_method(method)
    labels, counts, n = _counts(transactions, min_support, max_len, limits, method, engine)
    return rules_from_counts(labels, counts, n, min_confidence, min_len, single_consequent, limits)


def _counts(
    transactions, min_support: float, max_len: int | None, limits: Limits, method: str, engine: str
) -> tuple[np.ndarray, dict[tuple[int, ...], int], int]:
    """Item labels, frequent itemset counts (sorted code tuples) and the order count."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    if engine == "spark":
        # Imported here: the Spark engine is optional and pyspark is slow to import.
        from engine.basket import fpgrowth

        return fpgrowth.itemset_counts(transactions, min_support, max_len, limits)
    baskets = mining.encode(transactions)
    labels, counts = mining.itemset_counts(baskets, min_support, max_len, limits, method)
    return labels, counts, baskets.n_orders


def rules_from_counts(
    labels: np.ndarray,
    counts: dict[tuple[int, ...], int],
    n: int,
    min_confidence: float,
    min_len: int = 2,
    single_consequent: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Rules from exact itemset counts; confidence is compared as ``count / base`` exactly.

    Every miner (this process's or Spark's) ends here, so rules at a confidence boundary
    come out the same whichever counted the itemsets.

    Parameters
    ----------
    labels
        Item label by code.
    counts
        Order count of every frequent itemset, keyed by its sorted code tuple (every subset
        of a frequent itemset is present, as the miners guarantee).
    n
        Number of orders.
    min_confidence, min_len, single_consequent, limits
        As in :func:`rules`.

    Returns
    -------
    pandas.DataFrame
        As :func:`rules`.

    Raises
    ------
    ValueError
        When there are more than ``limits.max_rules`` rules.
    """
    ante_codes: list[tuple[int, ...]] = []
    cons_codes: list[tuple[int, ...]] = []
    both: list[int] = []
    for itemset, count in counts.items():
        k = len(itemset)
        if k < min_len:
            continue
        sizes = [1] if single_consequent else range(1, k + (1 if k == 1 else 0))
        for size in sizes:
            for consequent in combinations(itemset, size):
                antecedent = tuple(i for i in itemset if i not in consequent)
                base = counts[antecedent] if antecedent else n
                if count / base >= min_confidence:
                    ante_codes.append(antecedent)
                    cons_codes.append(consequent)
                    both.append(count)
                    if len(both) > limits.max_rules:
                        raise ValueError(
                            f"request too large: more than {limits.max_rules:,} rules; "
                            "raise min_support or min_confidence, or set max_len"
                        )
    if not both:
        return empty_rules()

    count_ac = np.asarray(both, dtype=np.float64)
    count_a = np.array([counts[a] if a else n for a in ante_codes], dtype=np.float64)
    count_c = np.array([counts[c] for c in cons_codes], dtype=np.float64)
    support = count_ac / n
    confidence = count_ac / count_a
    support_c = count_c / n
    with np.errstate(divide="ignore"):
        conviction = np.where(
            confidence >= 1.0, np.inf, (1.0 - support_c) / np.maximum(1.0 - confidence, 1e-300)
        )
    out = pd.DataFrame(
        {
            "antecedents": [frozenset(labels[list(a)]) for a in ante_codes],
            "consequents": [frozenset(labels[list(c)]) for c in cons_codes],
            "support": support,
            "confidence": confidence,
            "lift": confidence / support_c,
            "leverage": support - (count_a / n) * support_c,
            "conviction": conviction,
            "count": count_ac.astype(np.int64),
        }
    )
    # A text key makes the order of exact ties deterministic.
    out["_key"] = [
        "|".join(sorted(map(str, a))) + "=>" + "|".join(sorted(map(str, c)))
        for a, c in zip(out["antecedents"], out["consequents"], strict=True)
    ]
    out = out.sort_values(
        ["lift", "confidence", "support", "_key"],
        ascending=[False, False, False, True],
        kind="stable",
    )
    return out.drop(columns="_key").reset_index(drop=True)


def empty_rules() -> pd.DataFrame:
    """An empty rule table with the documented columns.

    Returns
    -------
    pandas.DataFrame
        No rows; columns as :func:`rules` returns them.
    """
    out = pd.DataFrame({c: pd.Series(dtype="float64") for c in RULE_COLUMNS})
    out["antecedents"] = pd.Series(dtype=object)
    out["consequents"] = pd.Series(dtype=object)
    out["count"] = pd.Series(dtype="int64")
    return out


def item_support(transactions: pd.DataFrame) -> pd.DataFrame:
    """Share of orders containing each item.

    Parameters
    ----------
    transactions
        One row per order line, columns ``order_id`` and ``item``.

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``count``, ``support``, by support descending then item.

    Raises
    ------
    ValueError
        On malformed input.
    """
    baskets = mining.encode(transactions)
    out = pd.DataFrame(
        {
            "item": baskets.labels,
            "count": baskets.item_count,
            "support": baskets.item_count / baskets.n_orders,
        }
    )
    order = np.lexsort((np.arange(len(out)), -baskets.item_count))
    return out.iloc[order].reset_index(drop=True)


def also_bought(transactions: pd.DataFrame, item, top: int = 10) -> pd.DataFrame:
    """ "Bought X, also bought": items most often in the same order as ``item``.

    Parameters
    ----------
    transactions
        One row per order line, columns ``order_id`` and ``item``.
    item
        The item X.
    top
        Number of items to return.

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``count`` (orders with X and the item), ``confidence``
        (share of X's orders), ``lift``; by confidence then lift, descending.

    Raises
    ------
    ValueError
        On malformed input, ``top < 1``, or when no order contains ``item``.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an integer >= 1; got {top!r}")
    baskets = mining.encode(transactions)
    hits = np.flatnonzero(baskets.labels == item)
    if hits.size == 0:
        raise ValueError(f"no order contains item {item!r}")
    code = int(hits[0])
    column = baskets.matrix[:, code].toarray().ravel()
    together = np.asarray(baskets.matrix[column].sum(axis=0, dtype=np.int64)).ravel()
    together[code] = 0
    n_x = int(baskets.item_count[code])
    confidence = together / n_x
    lift = confidence / (baskets.item_count / baskets.n_orders)
    out = pd.DataFrame(
        {"item": baskets.labels, "count": together, "confidence": confidence, "lift": lift}
    )
    out = out[out["count"] > 0]
    out = out.sort_values(["confidence", "lift"], ascending=False, kind="stable")
    return out.head(top).reset_index(drop=True)


def _margin_table(margins) -> pd.Series:
    if isinstance(margins, pd.DataFrame):
        missing = [c for c in ("item", "margin") if c not in margins.columns]
        if missing:
            raise ValueError(f"margins lacks column(s) {missing}; expected item, margin")
        table = margins.set_index("item")["margin"]
    elif isinstance(margins, pd.Series):
        table = margins
    elif isinstance(margins, Mapping):
        table = pd.Series(dict(margins), dtype="float64")
    else:
        raise ValueError("margins must be a DataFrame (item, margin), a Series or a mapping")
    table = pd.to_numeric(table, errors="coerce").dropna()
    if table.empty:
        raise ValueError("margins has no numeric margin for any item")
    if table.index.has_duplicates:
        raise ValueError("margins lists an item more than once")
    return table


def bundles(
    transactions: pd.DataFrame,
    margins,
    min_support: float,
    min_confidence: float = 0.0,
    max_size: int = 3,
    top: int = 20,
    limits: Limits = DEFAULT_LIMITS,
    method: str = "auto",
    engine: str = "local",
) -> pd.DataFrame:
    """Bundles of 2 to ``max_size`` items ranked by expected incremental margin.

    The score is ``lift x volume x margin``: the lift of the bundle's strongest
    single-consequent rule, the number of orders containing the whole bundle, and the sum
    of the items' unit margins. Items without a margin are left out.

    Parameters
    ----------
    transactions
        One row per order line, columns ``order_id`` and ``item``.
    margins
        Unit margin per item: a DataFrame with ``item, margin``, a Series or a mapping.
    min_support
        Minimum support of the bundle, in (0, 1].
    min_confidence
        Minimum confidence of the supporting rule, in [0, 1].
    max_size
        Largest bundle, 2 or 3.
    top
        Number of bundles to return.
    limits
        Memory guards.
    method
        How itemsets of three or more items are mined: ``"mlxtend"`` (mlxtend's FP-growth),
        ``"sparse"`` (level-wise exact counting with sparse matrix products) or ``"auto"``
        (mlxtend unless more than ``AUTO_MLXTEND_MAX_BASKETS`` baskets remain). Pairs are
        always counted exactly from ``X'X``; all methods give identical results.
    engine
        ``"local"`` (this process, by ``method``) or ``"spark"``: Spark MLlib's FP-Growth on
        the shared session (:mod:`engine.basket.fpgrowth`; ``method`` is then ignored, and
        ``transactions`` may also be a Spark DataFrame). Counts, and so results, are
        identical.

    Returns
    -------
    pandas.DataFrame
        Columns ``items`` (frozenset), ``size``, ``antecedents``, ``consequents`` (the
        supporting rule), ``support``, ``confidence``, ``lift``, ``volume``, ``margin``,
        ``score``; by score descending.

    Raises
    ------
    ValueError
        On malformed input or parameters.
    """
    if max_size not in (2, 3):
        raise ValueError(f"max_size must be 2 or 3; got {max_size!r}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an integer >= 1; got {top!r}")
    table = _margin_table(margins)
    found = rules(
        transactions,
        min_support,
        min_confidence,
        min_len=2,
        max_len=max_size,
        limits=limits,
        method=method,
        engine=engine,
    )
    columns = [
        "items",
        "size",
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "volume",
        "margin",
        "score",
    ]
    if found.empty:
        return pd.DataFrame(columns=columns)
    found = found.copy()
    found["items"] = [
        a | c for a, c in zip(found["antecedents"], found["consequents"], strict=True)
    ]
    found = found[found["items"].map(lambda s: all(i in table.index for i in s))]
    if found.empty:
        return pd.DataFrame(columns=columns)
    # rules() is sorted by lift, so the first rule per bundle is its strongest.
    best = found.drop_duplicates("items", keep="first").copy()
    best["size"] = best["items"].map(len)
    best["volume"] = best["count"]
    best["margin"] = [float(table.loc[list(s)].sum()) for s in best["items"]]
    best["score"] = best["lift"] * best["volume"] * best["margin"]
    best = best.sort_values(["score", "lift"], ascending=False, kind="stable")
    return best[columns].head(top).reset_index(drop=True)
