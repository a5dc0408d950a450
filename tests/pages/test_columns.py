"""The column registry: every header it names exists in both languages, formats are applied."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import columns, i18n
from dashboard.i18n import t


def _all_columns():
    common, tables = columns.registry()
    yield from (("common", k, c) for k, c in common.items())
    for name, cols in tables.items():
        yield from ((name, k, c) for k, c in cols.items())


def test_every_header_key_is_translated():
    """Each i18n key the registry uses has a Chinese and an English text."""
    table = i18n.table()
    missing = []
    for name, key, col in _all_columns():
        keys = (col.label,) if isinstance(col.label, str) else col.label
        missing += [(name, key, k) for k in keys if set(table.get(k, {})) < {"zh", "en"}]
    assert not missing


def test_config_hides_labels_and_formats():
    """Ids are hidden, money gets ¥ with separators, shares are percentages, others a header."""
    frame = pd.DataFrame(columns=["community_id", "community", "gmv", "group_success_rate"])
    cfg = columns.config("overview", frame)
    assert cfg["community_id"] is None
    assert cfg["community"] == t("col_community")
    assert cfg["gmv"]["label"] == t("col_gmv") and cfg["gmv"]["type_config"]["format"] == "¥%,.0f"
    assert cfg["group_success_rate"]["type_config"]["format"] == "percent"


def test_a_table_entry_wins_over_the_common_one():
    """A bundle's margin is its unit margin (two decimals), not the gross margin."""
    cfg = columns.config("basket", pd.DataFrame(columns=["margin"]))
    assert cfg["margin"]["label"] == t("col_margin")
    assert cfg["margin"]["type_config"]["format"] == "¥%,.2f"


def test_named_index_and_keyword_metrics_get_headers():
    """A named index is labelled; a rule metric with a keyword keeps it after the header."""
    frame = pd.DataFrame({"mentions(低糖水果)": [1]}, index=pd.Index(["a"], name="persona_label"))
    cfg = columns.config("segments.sizes", frame)
    assert cfg["_index"] == t("sg_col_persona")
    heads = columns.labels("selection.picks", frame)
    assert heads == {"mentions(低糖水果)": t("sel_m_mentions") + "(低糖水果)"}


def test_overrides_and_unknown_tables():
    """A run-time override replaces an entry; an unregistered table is an error, not a guess."""
    frame = pd.DataFrame(columns=["segment"])
    assert columns.config("pricing.elasticity", frame, {"segment": "pr_by_age_band"}) == {
        "segment": t("pr_by_age_band")
    }
    with pytest.raises(KeyError, match="no table"):
        columns.config("nowhere", frame)


def test_unknown_kind_is_refused():
    """A typo in a format kind fails when the registry loads."""
    with pytest.raises(ValueError, match="unknown column kind"):
        columns.Col("col_gmv", "moneyy")
