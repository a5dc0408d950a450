"""Market-basket analysis: transactions in, frequent itemsets, rules and bundles out.

``from engine import basket`` then ``basket.rules(tx, ...)``: the generic analysis of
:mod:`engine.basket.association` is the package's public API. :mod:`engine.basket.mining`
holds the encoding, the memory guards and the two miners; :mod:`engine.basket.slices` reads
the transactions and unit margins of a :class:`~engine.basket.slices.BasketSlice` of Linli's
orders (``basket.slices.transactions(con, basket.slices.BasketSlice(...))``).
"""

from engine.basket import slices
from engine.basket.association import (
    DEFAULT_LIMITS,
    RULE_COLUMNS,
    also_bought,
    bundles,
    empty_rules,
    frequent_itemsets,
    item_support,
    rules,
)
from engine.basket.mining import AUTO_MLXTEND_MAX_BASKETS, METHODS, Limits

__all__ = [
    "AUTO_MLXTEND_MAX_BASKETS",
    "DEFAULT_LIMITS",
    "METHODS",
    "RULE_COLUMNS",
    "Limits",
    "also_bought",
    "bundles",
    "empty_rules",
    "frequent_itemsets",
    "item_support",
    "rules",
    "slices",
]
