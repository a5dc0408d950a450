"""engine.basket's Spark engine (MLlib FP-Growth) against the single-machine path."""

from pathlib import Path

import pandas as pd
import pytest

from engine import basket

GROCERIES = Path(__file__).resolve().parent.parent / "data" / "groceries.csv"
KEY = ["antecedents", "consequents", "count", "confidence"]

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture(scope="module")
def groceries() -> pd.DataFrame:
    """Groceries as order lines; labels kept verbatim (two carry a trailing space)."""
    lines = GROCERIES.read_text().splitlines()
    rows = [(i, item) for i, line in enumerate(lines) for item in line.split(",")]
    return pd.DataFrame(rows, columns=["order_id", "item"])


def _rule_set(df: pd.DataFrame) -> set[tuple]:
    return set(df[KEY].itertuples(index=False, name=None))


def _same_rules(local: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same rule set (antecedent, consequent, count, confidence), and in fact the same frame."""
    assert _rule_set(spark) == _rule_set(local)
    pd.testing.assert_frame_equal(spark, local)


def test_spark_fpgrowth_groceries_463(groceries, spark):
    """Spark's FP-Growth gives the 463 arules rules of 0.006/0.25/minlen 2, as the local path."""
    local = basket.rules(groceries, 0.006, 0.25, min_len=2)
    out = basket.rules(groceries, 0.006, 0.25, min_len=2, engine="spark")
    assert len(out) == 463
    _same_rules(local, out)


@pytest.mark.scale
@pytest.mark.parametrize(
    ("support", "confidence", "expected"), [(0.001, 0.8, 410), (0.001, 0.5, 5668)]
)
def test_spark_fpgrowth_groceries_published_counts(groceries, spark, support, confidence, expected):
    """At 0.001/0.8 and 0.001/0.5 (minlen 1) Spark gives arules' 410 and 5,668 rules exactly."""
    local = basket.rules(groceries, support, confidence, min_len=1)
    out = basket.rules(groceries, support, confidence, min_len=1, engine="spark")
    assert len(out) == expected
    _same_rules(local, out)


@pytest.mark.scale
def test_spark_confidence_boundary_is_exact(spark):
    """A rule whose confidence equals min_confidence exactly (2/3) is kept by both engines."""
    tx = pd.DataFrame(
        {
            "order_id": [1, 1, 2, 2, 3, 4, 5, 5],
            "item": ["a", "b", "a", "b", "a", "c", "b", "c"],
        }
    )
    local = basket.rules(tx, 0.2, 2 / 3)
    out = basket.rules(tx, 0.2, 2 / 3, engine="spark")
    rule = out[(out["antecedents"] == frozenset("a")) & (out["consequents"] == frozenset("b"))]
    assert rule["confidence"].tolist() == [2 / 3]
    _same_rules(local, out)
    # A Spark DataFrame stays where it is and gives the same rules.
    _same_rules(local, basket.rules(spark.createDataFrame(tx), 0.2, 2 / 3, engine="spark"))


@pytest.mark.scale
def test_spark_basket_cap_and_guard(spark):
    """Spark caps long baskets to their most frequent items as the local miners do, and the
    itemset guard raises the same kind of error."""
    tx = pd.DataFrame(
        {
            "order_id": [1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5],
            "item": ["a", "b", "c", "a", "b", "a", "b", "a", "c", "b", "c", "a"],
        }
    )
    capped = basket.Limits(max_basket_items=2)
    local = basket.frequent_itemsets(tx, 0.2, limits=capped)
    out = basket.frequent_itemsets(tx, 0.2, limits=capped, engine="spark")
    as_dict = lambda df: dict(zip(df["itemsets"], df["count"], strict=True))  # noqa: E731
    assert frozenset("abc") not in as_dict(local)
    assert as_dict(out) == as_dict(local)
    with pytest.raises(ValueError, match="request too large"):
        basket.rules(tx, 0.2, 0.1, limits=basket.Limits(max_candidates=2), engine="spark")


@pytest.mark.scale
def test_spark_small_world_baskets(world, spark):
    """On the small world's SKU baskets both engines give the same rules and itemsets."""
    tx = basket.slices.transactions(world.cursor())
    local = basket.rules(tx, 0.002, 0.1, min_len=2)
    out = basket.rules(tx, 0.002, 0.1, min_len=2, engine="spark")
    assert len(local) > 20
    _same_rules(local, out)
    fi_local = basket.frequent_itemsets(tx, 0.002, max_len=2)
    fi_spark = basket.frequent_itemsets(tx, 0.002, max_len=2, engine="spark")
    as_dict = lambda df: dict(zip(df["itemsets"], df["count"], strict=True))  # noqa: E731
    assert as_dict(fi_spark) == as_dict(fi_local)
    assert fi_spark["itemsets"].map(len).max() == 2


def test_unknown_engine_raises():
    """An engine other than local or spark raises ValueError naming the choices."""
    tx = pd.DataFrame({"order_id": [1, 1], "item": ["a", "b"]})
    with pytest.raises(ValueError, match="engine must be one of"):
        basket.rules(tx, 0.5, 0.1, engine="dask")


def test_spark_engine_rejects_bad_transactions():
    """Malformed transactions fail before Spark starts, with the local path's messages."""
    with pytest.raises(ValueError, match="lacks column"):
        basket.rules(pd.DataFrame({"order": [1], "item": ["a"]}), 0.5, 0.1, engine="spark")
    with pytest.raises(ValueError, match="must be a pandas or Spark DataFrame"):
        basket.rules([(1, "a")], 0.5, 0.1, engine="spark")
