"""Frequent-itemset mining for engine.basket: encoding, memory guards and two miners.

Items and pairs are counted exactly from a sparse basket matrix (pairs from ``X'X``).
Itemsets of three or more items are mined either by mlxtend's public ``fpgrowth()`` on the
baskets left after pruning, or by level-wise exact counting with sparse products, which
scales to millions of orders. Counts follow arules: frequent means
``count >= ceil(s * n_orders)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from mlxtend.frequent_patterns import fpgrowth

METHODS = ("auto", "mlxtend", "sparse")
# With more baskets than this left for itemsets of three or more items, "auto" counts them
# with sparse products: mlxtend's pure-Python FP-tree costs about 10 us per basket and node.
AUTO_MLXTEND_MAX_BASKETS = 50_000
# Sparse mining tests basket membership in a dense boolean table up to this size.
DENSE_LOOKUP_BYTES = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Guards that keep a mining request within memory and time.

    Attributes
    ----------
    max_basket_items
        Baskets with more frequent items keep only their most frequent ones (a cap on
        basket length; FP-growth's cost grows with it). Groceries' longest basket has 32.
    max_candidates
        Largest allowed estimate of candidate itemsets (frequent pairs plus candidate
        triples, i.e. triangles of the frequent-pair graph) before mining starts.
    max_rules
        Largest number of rules a request may produce.
    """

    max_basket_items: int = 64
    max_candidates: int = 5_000_000
    max_rules: int = 5_000_000


@dataclass(frozen=True)
class Baskets:
    """Encoded transactions: item labels, per-item order counts and a sparse matrix."""

    labels: np.ndarray  # item label by code
    item_count: np.ndarray  # orders containing each item, by code
    n_orders: int
    matrix: sp.csr_matrix  # orders x items (bool)


def check_transactions(transactions: pd.DataFrame) -> None:
    """Check that ``transactions`` is a non-empty frame of ``order_id, item`` without nulls.

    Parameters
    ----------
    transactions
        The frame to check.

    Raises
    ------
    ValueError
        Naming what is wrong.
    """
    if not isinstance(transactions, pd.DataFrame):
        raise ValueError(
            f"transactions must be a DataFrame with columns order_id, item; "
            f"got {type(transactions).__name__}"
        )
    missing = [c for c in ("order_id", "item") if c not in transactions.columns]
    if missing:
        raise ValueError(
            f"transactions lacks column(s) {missing}; expected order_id, item "
            f"(has {list(transactions.columns)})"
        )
    if transactions.empty:
        raise ValueError("transactions is empty: there are no orders to analyse")
    nulls = int(transactions["order_id"].isna().sum() + transactions["item"].isna().sum())
    if nulls:
        raise ValueError(f"transactions has {nulls} missing order_id/item value(s)")


def check_fraction(name: str, value: float, allow_zero: bool) -> None:
    """Check that ``value`` is a finite number in (0, 1], or [0, 1] with ``allow_zero``.

    Parameters
    ----------
    name
        Parameter name for the message.
    value
        The value to check.
    allow_zero
        Whether 0 is allowed.

    Raises
    ------
    ValueError
        When ``value`` is not a number in the interval.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    lower_ok = ok and (value >= 0 if allow_zero else value > 0)
    if not (lower_ok and value <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be a number in {interval}; got {value!r}")


def encode(transactions: pd.DataFrame) -> Baskets:
    """Encode order lines as a sparse orders x items matrix (duplicate lines ignored).

    Parameters
    ----------
    transactions
        One row per order line, columns ``order_id`` and ``item``.

    Returns
    -------
    Baskets
        Item labels (sorted), per-item order counts, the order count and the matrix.

    Raises
    ------
    ValueError
        On malformed input.
    """
    check_transactions(transactions)
    order_codes, _ = pd.factorize(transactions["order_id"], sort=False)
    item_codes, labels = pd.factorize(transactions["item"], sort=True)
    n_orders = int(order_codes.max()) + 1
    matrix = sp.csr_matrix(
        (np.ones(order_codes.size, dtype=bool), (order_codes, item_codes)),
        shape=(n_orders, len(labels)),
    )
    # Duplicate (order, item) lines were summed into True; a basket is a set.
    matrix.sum_duplicates()
    matrix.data[:] = True
    item_count = np.asarray(matrix.sum(axis=0, dtype=np.int64)).ravel()
    return Baskets(np.asarray(labels, dtype=object), item_count, n_orders, matrix)


def min_count(min_support: float, n_orders: int) -> int:
    """Smallest order count that makes an itemset frequent (arules: ``>= ceil(s * n)``).

    Parameters
    ----------
    min_support
        Minimum support as a fraction of orders.
    n_orders
        Number of orders.

    Returns
    -------
    int
        The count threshold, at least 1.
    """
    # The tolerance keeps e.g. 0.001 * 1_000_000 = 1000.0000000000001 at 1000.
    return max(1, math.ceil(min_support * n_orders - 1e-9))


def _frequent_matrix(baskets: Baskets, threshold: int, limits: Limits):
    """Prune rare items, cap basket length, keep baskets with two or more frequent items."""
    frequent = np.flatnonzero(baskets.item_count >= threshold)
    # Columns in descending frequency: CSR rows with sorted indices are then already in
    # FP-tree insertion order, and truncating a row keeps its most frequent items.
    frequent = frequent[np.argsort(-baskets.item_count[frequent], kind="stable")]
    x = baskets.matrix[:, frequent].tocsr()
    x.sort_indices()
    lengths = np.diff(x.indptr)
    x = x[lengths >= 2]
    cap = limits.max_basket_items
    lengths = np.diff(x.indptr)
    if x.shape[0] and lengths.max() > cap:
        keep = np.arange(x.nnz) - np.repeat(x.indptr[:-1], lengths) < cap
        rows = np.repeat(np.arange(x.shape[0]), lengths)[keep]
        x = sp.csr_matrix((x.data[keep], (rows, x.indices[keep])), shape=x.shape, dtype=bool)
    return frequent, x


def _pair_graph(x: sp.csr_matrix, threshold: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Exact pair counts (upper triangle) and the symmetric frequent-pair adjacency."""
    xi = x.astype(np.int32)
    pair_counts = sp.triu(xi.T @ xi, k=1).tocsr()
    upper = (pair_counts >= threshold).astype(np.int32)
    return pair_counts, (upper + upper.T).tocsr()


def _guard(n_items: int, adjacency: sp.csr_matrix, max_len: int | None, limits: Limits) -> None:
    """Raise ValueError when the request would enumerate too many candidate itemsets."""
    pairs = adjacency.nnz // 2
    triangles = 0
    if max_len is None or max_len >= 3:
        a = adjacency.astype(np.int64)
        triangles = int((a @ a).multiply(a).sum()) // 6
    if pairs + triangles > limits.max_candidates:
        raise ValueError(
            f"request too large: {n_items} frequent items form {pairs:,} frequent pairs and "
            f"{triangles:,} candidate triples (limit {limits.max_candidates:,} candidates); "
            "raise min_support, set max_len, or narrow the scope"
        )


def _mine(
    x: sp.csr_matrix,
    threshold: int,
    max_len: int | None,
    pair_counts: sp.csr_matrix,
    adjacency: sp.csr_matrix,
    method: str,
    limits: Limits,
) -> dict[tuple[int, ...], int]:
    """Frequent itemsets of size >= 2 (column tuples, sorted) with their order counts.

    Pairs come exactly from the sparse product ``X'X``. For three or more items only items
    with a frequent partner matter (every item of a frequent itemset has one), and baskets
    left with fewer than three such items are dropped before mining.
    """
    coo = pair_counts.tocoo()
    hit = coo.data >= threshold
    found: dict[tuple[int, ...], int] = {
        (int(i), int(j)): int(c)
        for i, j, c in zip(coo.row[hit], coo.col[hit], coo.data[hit], strict=True)
    }
    if (max_len is not None and max_len < 3) or not found:
        return found
    connected = np.flatnonzero(np.diff(adjacency.indptr) > 0)
    y = x[:, connected].tocsr()
    y.sort_indices()
    y = y[np.diff(y.indptr) >= 3]
    if y.shape[0] == 0:
        return found
    if method == "auto":
        method = "mlxtend" if y.shape[0] <= AUTO_MLXTEND_MAX_BASKETS else "sparse"
    if method == "mlxtend":
        mined = _mine_fptree(y, threshold, max_len)
    else:
        position = np.full(x.shape[1], -1)
        position[connected] = np.arange(connected.size)
        pairs = position[np.array(list(found), dtype=np.int64)]
        mined = _mine_vertical(y, pairs, threshold, max_len, limits)
    for itemset, count in mined:
        found[tuple(sorted(int(connected[i]) for i in itemset))] = count
    return found


def _mine_fptree(y: sp.csr_matrix, threshold: int, max_len: int | None):
    """Itemsets of three or more items by mlxtend's public ``fpgrowth()`` on the rows of ``y``.

    ``fpgrowth`` takes a support fraction and keeps ``count >= ceil(fraction * rows)``;
    ``threshold - 0.5`` over the row count lands that ceiling exactly on ``threshold``
    whatever the rounding of the division.
    """
    n_rows = y.shape[0]
    onehot = pd.DataFrame(y.toarray())
    found = fpgrowth(onehot, min_support=(threshold - 0.5) / n_rows, max_len=max_len)
    sizes = found["itemsets"].map(len).to_numpy()
    counts = np.rint(found["support"].to_numpy() * n_rows).astype(np.int64)
    for itemset, count in zip(found["itemsets"][sizes >= 3], counts[sizes >= 3], strict=True):
        yield sorted(int(i) for i in itemset), int(count)


def _segments(indptr: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the concatenated segments ``which`` of a CSR/CSC layout, and owners."""
    starts = indptr[which]
    lengths = indptr[which + 1] - starts
    owner = np.repeat(np.arange(which.size), lengths)
    offsets = np.arange(owner.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + offsets, owner


def _occurrence_matrix(rows: np.ndarray, sets: np.ndarray, n_rows: int, n_sets: int):
    return sp.csc_matrix((np.ones(rows.size, dtype=np.int32), (rows, sets)), shape=(n_rows, n_sets))


def _mine_vertical(
    y: sp.csr_matrix, pairs: np.ndarray, threshold: int, max_len: int | None, limits: Limits
):
    """Itemsets of three or more items by level-wise exact counting with sparse products.

    Starts from the frequent ``pairs`` (column positions in ``y``). ``occ`` marks, per
    frequent k-itemset, the baskets containing it; ``occ' @ Y`` counts every one-item
    extension at once. Extensions only add items after the set's last item, so each itemset
    is generated once. Membership tests use sorted (basket, item) keys instead of slicing
    columns of ``Y``, whose popular columns are long.
    """
    n_rows, n_items = y.shape
    # Eclat's order: least frequent item first, so a set's parent (its prefix) is its
    # rarest subset and extending it touches the fewest baskets.
    y = sp.csr_matrix((y.data, n_items - 1 - y.indices, y.indptr), shape=y.shape)
    y.sort_indices()
    lengths = np.diff(y.indptr)
    basket_of = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
    if n_rows * n_items <= DENSE_LOOKUP_BYTES:
        dense = np.zeros((n_rows, n_items), dtype=bool)
        dense[basket_of, y.indices] = True

        def contains(rows, items):
            return dense[rows, items]
    else:
        keys = basket_of * n_items + y.indices  # ascending: rows with sorted indices

        def contains(rows, items):
            wanted = rows * n_items + items
            at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
            return keys[at] == wanted

    sets = np.sort(n_items - 1 - pairs, axis=1)
    pair_id = np.full((n_items, n_items), -1, dtype=np.int64)
    pair_id[sets[:, 0], sets[:, 1]] = np.arange(len(sets))
    # Level 2: every within-basket pair (i before j in the row) that is frequent.
    offset = np.arange(y.nnz) - np.repeat(y.indptr[:-1], lengths)
    occ_rows, occ_sets = [], []
    for d in range(1, int(lengths.max())):
        k = np.flatnonzero(offset + d < np.repeat(lengths, lengths))
        ids = pair_id[y.indices[k], y.indices[k + d]]
        hit = ids >= 0
        occ_rows.append(basket_of[k[hit]])
        occ_sets.append(ids[hit])
    occ = _occurrence_matrix(np.concatenate(occ_rows), np.concatenate(occ_sets), n_rows, len(sets))
    size = 2
    while len(sets) and (max_len is None or size < max_len):
        counts = (occ.T.tocsr() @ y.astype(np.int32)).tocoo()
        extend = (counts.data >= threshold) & (counts.col > sets[counts.row, -1])
        parent, item = counts.row[extend], counts.col[extend]
        if parent.size == 0:
            break
        if parent.size > limits.max_candidates:
            raise ValueError(
                f"request too large: {parent.size:,} frequent itemsets of size {size + 1} "
                f"(limit {limits.max_candidates:,}); raise min_support or set max_len"
            )
        sets = np.column_stack([sets[parent], item])
        original = n_items - 1 - sets
        for row, count in zip(original.tolist(), counts.data[extend].tolist(), strict=True):
            yield row, int(count)
        if max_len is not None and size + 1 >= max_len:
            break
        positions, owner = _segments(occ.indptr, parent)
        rows = occ.indices[positions].astype(np.int64)
        present = contains(rows, item[owner])
        occ = _occurrence_matrix(rows[present], owner[present], n_rows, len(sets))
        size += 1


def check_method(method: str) -> None:
    """Raise ValueError unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")


def check_len(min_len: int, max_len: int | None) -> None:
    """Raise ValueError unless ``1 <= min_len <= max_len`` (``max_len`` may be None)."""
    if isinstance(min_len, bool) or not isinstance(min_len, int) or min_len < 1:
        raise ValueError(f"min_len must be an integer >= 1; got {min_len!r}")
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < min_len
    ):
        raise ValueError(f"max_len must be None or an integer >= min_len; got {max_len!r}")


def itemset_counts(
    baskets: Baskets, min_support: float, max_len: int | None, limits: Limits, method: str
):
    """All frequent itemsets of encoded baskets with their order counts.

    Parameters
    ----------
    baskets
        Output of :func:`encode`.
    min_support
        Minimum support in (0, 1].
    max_len
        Largest itemset size, or None.
    limits
        Memory guards.
    method
        ``"auto"``, ``"mlxtend"`` or ``"sparse"``.

    Returns
    -------
    tuple
        Item labels by code, and a dict from sorted code tuples to order counts.

    Raises
    ------
    ValueError
        When the request exceeds ``limits``.
    """
    threshold = min_count(min_support, baskets.n_orders)
    columns, x = _frequent_matrix(baskets, threshold, limits)
    counts: dict[tuple[int, ...], int] = {(int(c),): int(baskets.item_count[c]) for c in columns}
    if x.shape[0] and (max_len is None or max_len >= 2):
        pair_counts, adjacency = _pair_graph(x, threshold)
        _guard(len(columns), adjacency, max_len, limits)
        for itemset, count in _mine(
            x, threshold, max_len, pair_counts, adjacency, method, limits
        ).items():
            counts[tuple(sorted(int(columns[i]) for i in itemset))] = count
    return baskets.labels, counts
