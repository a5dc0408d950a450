"""engine.basket against the public Groceries data (arules references) and hand-built cases."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from engine import basket

GROCERIES = Path(__file__).resolve().parent.parent / "data" / "groceries.csv"


@pytest.fixture(scope="module")
def groceries() -> pd.DataFrame:
    """Groceries as order lines; labels kept verbatim (two carry a trailing space)."""
    lines = GROCERIES.read_text().splitlines()
    rows = [(i, item) for i, line in enumerate(lines) for item in line.split(",")]
    return pd.DataFrame(rows, columns=["order_id", "item"])


@pytest.fixture(scope="module")
def rules_463(groceries) -> pd.DataFrame:
    """Lantz's rule set: support 0.006, confidence 0.25, min length 2."""
    return basket.rules(groceries, 0.006, 0.25, min_len=2)


def _rule(df: pd.DataFrame, ante: set, cons: set) -> pd.Series:
    hit = df[(df["antecedents"] == frozenset(ante)) & (df["consequents"] == frozenset(cons))]
    assert len(hit) == 1, f"rule {ante} => {cons} not found once"
    return hit.iloc[0]


def test_groceries_item_support(groceries):
    """Whole milk is the top item with support 0.2555 over 9,835 baskets and 169 items."""
    sup = basket.item_support(groceries)
    assert len(sup) == 169
    assert sup.iloc[0]["item"] == "whole milk"
    assert sup.iloc[0]["count"] == 2513
    assert round(sup.iloc[0]["support"], 4) == 0.2555
    assert sup["count"].sum() == 43367


def test_groceries_463_rules_and_lengths(rules_463):
    """Exactly 463 rules at 0.006/0.25/minlen 2, with arules' length distribution."""
    assert len(rules_463) == 463
    lengths = (rules_463["antecedents"].map(len) + 1).value_counts().to_dict()
    assert lengths == {2: 150, 3: 297, 4: 16}
    assert (rules_463["consequents"].map(len) == 1).all()
    assert rules_463["support"].min() >= 0.006
    assert rules_463["confidence"].min() >= 0.25


def test_groceries_top_lift_herbs(rules_463):
    """The top-lift rule is {herbs} => {root vegetables}, lift 3.956, and rules sort by lift."""
    top = rules_463.iloc[0]
    assert top["antecedents"] == frozenset({"herbs"})
    assert top["consequents"] == frozenset({"root vegetables"})
    assert round(top["lift"], 3) == 3.956
    assert top["count"] == 69
    assert top["confidence"] == pytest.approx(0.43125)
    assert top["support"] == pytest.approx(69 / 9835)
    assert rules_463["lift"].is_monotonic_decreasing
    second = rules_463.iloc[1]
    assert second["antecedents"] == frozenset({"berries"})
    assert round(second["lift"], 6) == 3.796886


@pytest.mark.parametrize("method", ["mlxtend", "sparse"])
@pytest.mark.parametrize(
    ("support", "confidence", "expected", "top_ante", "top_cons", "top_lift"),
    [
        (0.001, 0.8, 410, {"liquor", "red/blush wine"}, {"bottled beer"}, 11.235269),
        (0.001, 0.5, 5668, {"Instant food products", "soda"}, {"hamburger meat"}, 18.995654),
        (0.01, 0.5, 15, None, None, None),
        (0.005, 0.5, 120, None, None, None),
    ],
)
def test_groceries_rule_counts(
    groceries, support, confidence, expected, top_ante, top_cons, top_lift, method
):
    """Rule counts match arules' apriori defaults (minlen 1) at the published thresholds."""
    out = basket.rules(groceries, support, confidence, min_len=1, method=method)
    assert len(out) == expected
    if top_ante is not None:
        assert out.iloc[0]["antecedents"] == frozenset(top_ante)
        assert out.iloc[0]["consequents"] == frozenset(top_cons)
        assert round(out.iloc[0]["lift"], 6) == top_lift


def test_groceries_frequent_itemset_counts(groceries):
    """747 frequent itemsets at 0.006; 13,492 at 0.001, of which 12,949 have 2-4 items."""
    assert len(basket.frequent_itemsets(groceries, 0.006, method="sparse")) == 747
    fi = basket.frequent_itemsets(groceries, 0.001, method="sparse")
    assert len(fi) == 13492
    assert fi["itemsets"].map(len).between(2, 4).sum() == 12949
    short = basket.frequent_itemsets(groceries, 0.001, max_len=4, method="sparse")
    assert len(short) == 12949 + 157


@pytest.mark.parametrize("method", ["mlxtend", "sparse"])
def test_itemsets_equal_mlxtend_public_fpgrowth(groceries, method):
    """Both miners find the same itemsets and supports as mlxtend's public fpgrowth()."""
    baskets = groceries.groupby("order_id")["item"].apply(list).tolist()
    enc = TransactionEncoder()
    onehot = pd.DataFrame(enc.fit(baskets).transform(baskets), columns=enc.columns_)
    ref = fpgrowth(onehot, min_support=0.004, use_colnames=True)
    ours = basket.frequent_itemsets(groceries, 0.004, method=method)
    assert dict(zip(ours["itemsets"], ours["support"].round(12), strict=True)) == dict(
        zip(ref["itemsets"], ref["support"].round(12), strict=True)
    )


@pytest.mark.parametrize(("support", "max_len"), [(0.002, 3), (0.001, None)])
def test_sparse_and_mlxtend_miners_agree(groceries, support, max_len):
    """The sparse level-wise miner and mlxtend's FP-growth give identical itemset counts."""
    a = basket.frequent_itemsets(groceries, support, max_len=max_len, method="mlxtend")
    b = basket.frequent_itemsets(groceries, support, max_len=max_len, method="sparse")
    assert len(a) > 2000
    assert dict(zip(a["itemsets"], a["count"], strict=True)) == dict(
        zip(b["itemsets"], b["count"], strict=True)
    )


def test_multi_consequent_matches_mlxtend_association_rules(groceries):
    """single_consequent=False gives mlxtend's rule set and metrics (any consequent size)."""
    baskets = groceries.groupby("order_id")["item"].apply(list).tolist()
    enc = TransactionEncoder()
    onehot = pd.DataFrame(enc.fit(baskets).transform(baskets), columns=enc.columns_)
    itemsets = fpgrowth(onehot, min_support=0.004, use_colnames=True)
    ref = association_rules(itemsets, len(onehot), metric="confidence", min_threshold=0.3)
    ours = basket.rules(groceries, 0.004, 0.3, single_consequent=False)
    assert (ours["consequents"].map(len) > 1).any()
    key = ["antecedents", "consequents"]
    merged = ours.merge(ref, on=key, suffixes=("", "_ref"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    for col in ["support", "confidence", "lift", "leverage", "conviction"]:
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-9)


def test_min_len_one_admits_empty_antecedent(groceries):
    """min_len=1 yields arules' {} => {whole milk} when confidence <= its support."""
    out = basket.rules(groceries, 0.01, 0.25, min_len=1)
    empty = out[out["antecedents"] == frozenset()]
    assert set(empty["consequents"]) == {frozenset({"whole milk"})}
    assert empty.iloc[0]["confidence"] == pytest.approx(2513 / 9835)
    assert empty.iloc[0]["lift"] == pytest.approx(1.0)
    assert not (basket.rules(groceries, 0.01, 0.25)["antecedents"] == frozenset()).any()


def test_max_len_limits_rule_length(groceries):
    """max_len=2 keeps only the 150 two-item rules of the 463."""
    out = basket.rules(groceries, 0.006, 0.25, max_len=2)
    assert len(out) == 150
    assert (out["antecedents"].map(len) == 1).all()


def test_hand_built_metrics_and_duplicates():
    """Metrics on a tiny example, duplicate lines ignored, conviction inf at confidence 1."""
    tx = pd.DataFrame(
        {
            "order_id": [1, 1, 1, 2, 2, 3, 3, 4],
            "item": ["a", "b", "a", "a", "b", "a", "c", "c"],
        }
    )
    out = basket.rules(tx, 0.5, 0.0)
    ab = _rule(out, {"b"}, {"a"})
    assert ab["support"] == 0.5
    assert ab["confidence"] == 1.0
    assert ab["lift"] == pytest.approx(1 / 0.75)
    assert ab["leverage"] == pytest.approx(0.5 - 0.5 * 0.75)
    assert np.isinf(ab["conviction"])
    ba = _rule(out, {"a"}, {"b"})
    assert ba["confidence"] == pytest.approx(2 / 3)
    assert ba["conviction"] == pytest.approx((1 - 0.5) / (1 - 2 / 3))
    assert len(out) == 2


def test_no_rules_returns_empty_frame_with_columns():
    """A request with no qualifying rule returns an empty frame with the documented columns."""
    tx = pd.DataFrame({"order_id": [1, 2], "item": ["a", "b"]})
    out = basket.rules(tx, 0.5, 0.1)
    assert out.empty
    assert list(out.columns) == basket.RULE_COLUMNS


def test_guard_raises_clear_error_when_too_large(groceries):
    """A candidate estimate above the limit raises ValueError naming the way out."""
    with pytest.raises(ValueError, match=r"too large.*raise min_support"):
        basket.rules(groceries, 0.001, 0.5, limits=basket.Limits(max_candidates=1000))
    dense = pd.DataFrame(
        [(order, item) for order in range(30) for item in range(20)], columns=["order_id", "item"]
    )
    with pytest.raises(ValueError, match="frequent itemsets of size 4"):
        basket.rules(dense, 0.5, 0.5, method="sparse", limits=basket.Limits(max_candidates=2000))
    with pytest.raises(ValueError, match="more than 100 rules"):
        basket.rules(groceries, 0.006, 0.25, limits=basket.Limits(max_rules=100))


def test_basket_cap_keeps_most_frequent_items():
    """Capping basket length keeps each long basket's most frequent items only."""
    tx = pd.DataFrame(
        {
            "order_id": [1, 1, 1, 2, 2, 3, 3, 4, 4],
            "item": ["a", "b", "c", "a", "b", "a", "b", "a", "c"],
        }
    )
    full = basket.frequent_itemsets(tx, 0.25)
    capped = basket.frequent_itemsets(tx, 0.25, limits=basket.Limits(max_basket_items=2))
    as_dict = lambda df: dict(zip(df["itemsets"], df["count"], strict=True))  # noqa: E731
    assert as_dict(full)[frozenset("abc")] == 1
    assert as_dict(capped) == {
        frozenset("a"): 4,
        frozenset("b"): 3,
        frozenset("c"): 2,
        frozenset("ab"): 3,
        frozenset("ac"): 1,
    }


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame(columns=["order_id", "item"]), "empty"),
        (pd.DataFrame({"order": [1], "item": ["a"]}), "lacks column"),
        (pd.DataFrame({"order_id": [1]}), "lacks column"),
        (pd.DataFrame({"order_id": [1, 2], "item": ["a", None]}), "missing"),
        ([(1, "a")], "must be a DataFrame"),
    ],
)
def test_bad_transactions_raise(frame, match):
    """Empty frames, missing columns, nulls and non-frames raise ValueError."""
    with pytest.raises(ValueError, match=match):
        basket.rules(frame, 0.1, 0.1)


@pytest.mark.parametrize("support", [0, 0.0, -0.1, 1.5, float("nan"), True, "0.1"])
def test_support_outside_unit_interval_raises(support):
    """min_support outside (0, 1] raises ValueError."""
    tx = pd.DataFrame({"order_id": [1, 1], "item": ["a", "b"]})
    with pytest.raises(ValueError, match="min_support"):
        basket.rules(tx, support, 0.1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_confidence": 1.2}, "min_confidence"),
        ({"min_confidence": -0.1}, "min_confidence"),
        ({"min_confidence": 0.1, "min_len": 0}, "min_len"),
        ({"min_confidence": 0.1, "min_len": 3, "max_len": 2}, "max_len"),
        ({"min_confidence": 0.1, "method": "apriori"}, "method"),
    ],
)
def test_bad_rule_parameters_raise(kwargs, match):
    """Confidence outside [0, 1] and inconsistent lengths raise ValueError."""
    tx = pd.DataFrame({"order_id": [1, 1], "item": ["a", "b"]})
    with pytest.raises(ValueError, match=match):
        basket.rules(tx, 0.5, **kwargs)


def test_support_one_is_allowed():
    """min_support = 1 is inside (0, 1] and finds items present in every order."""
    tx = pd.DataFrame({"order_id": [1, 1, 2, 2], "item": ["a", "b", "a", "c"]})
    fi = basket.frequent_itemsets(tx, 1.0)
    assert list(fi["itemsets"]) == [frozenset({"a"})]


def test_also_bought_herbs(groceries):
    """Buyers of herbs also buy root vegetables at confidence 0.431 and lift 3.956."""
    out = basket.also_bought(groceries, "herbs", top=5)
    assert len(out) == 5
    assert "herbs" not in set(out["item"])
    row = out[out["item"] == "root vegetables"].iloc[0]
    assert row["count"] == 69
    assert row["confidence"] == pytest.approx(0.43125)
    assert round(row["lift"], 3) == 3.956
    assert out["confidence"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="no order contains"):
        basket.also_bought(groceries, "caviar")


def test_bundles_rank_by_lift_volume_margin(groceries):
    """Bundles score lift x volume x margin, use only priced items, carry their rule."""
    margins = pd.DataFrame(
        {
            "item": ["whole milk", "other vegetables", "root vegetables", "yogurt", "herbs"],
            "margin": [1.0, 2.0, 3.0, 1.5, 10.0],
        }
    )
    out = basket.bundles(groceries, margins, 0.005, top=50)
    priced = set(margins["item"])
    assert not out.empty
    assert all(s <= priced for s in out["items"])
    assert set(out["size"]) <= {2, 3}
    assert out["score"].is_monotonic_decreasing
    margin_of = margins.set_index("item")["margin"]
    for _, b in out.iterrows():
        assert b["antecedents"] | b["consequents"] == b["items"]
        assert b["margin"] == pytest.approx(margin_of[list(b["items"])].sum())
        assert b["score"] == pytest.approx(b["lift"] * b["volume"] * b["margin"])
    herbs = out[out["items"] == frozenset({"herbs", "root vegetables"})].iloc[0]
    assert herbs["volume"] == 69
    assert round(herbs["lift"], 3) == 3.956


@pytest.mark.parametrize(
    ("margins", "kwargs", "match"),
    [
        (pd.DataFrame({"item": ["a"]}), {}, "margins lacks"),
        ({}, {}, "no numeric margin"),
        ([1, 2], {}, "margins must be"),
        ({"a": 1.0}, {"max_size": 4}, "max_size"),
        ({"a": 1.0}, {"top": 0}, "top"),
    ],
)
def test_bundles_bad_input_raises(margins, kwargs, match):
    """Malformed margin tables and parameters raise ValueError."""
    tx = pd.DataFrame({"order_id": [1, 1], "item": ["a", "b"]})
    with pytest.raises(ValueError, match=match):
        basket.bundles(tx, margins, 0.5, **kwargs)


def test_miners_agree_on_random_skewed_baskets():
    """On seeded Zipf-like baskets with a planted triple, both miners return equal counts."""
    rng = np.random.default_rng(3)
    popularity = 1 / np.arange(1, 41) ** 0.8
    sizes = 1 + rng.poisson(4, 4000)
    order_id = np.repeat(np.arange(4000), sizes)
    item = rng.choice(40, size=order_id.size, p=popularity / popularity.sum())
    planted = np.flatnonzero(rng.random(4000) < 0.05)
    order_id = np.concatenate([order_id, np.repeat(planted, 3)])
    item = np.concatenate([item, np.tile([37, 38, 39], planted.size)])
    tx = pd.DataFrame({"order_id": order_id, "item": item})
    a = basket.frequent_itemsets(tx, 0.01, method="mlxtend")
    b = basket.frequent_itemsets(tx, 0.01, method="sparse")
    as_dict = lambda df: dict(zip(df["itemsets"], df["count"], strict=True))  # noqa: E731
    assert as_dict(a) == as_dict(b)
    assert a["itemsets"].map(len).max() >= 3
    assert frozenset({37, 38, 39}) in as_dict(a)
