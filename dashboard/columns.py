"""The column registry: every table column's translated header and display format, in one place.

``columns.toml`` maps a column key (as the engine names it) to a :class:`Col`: the i18n key of
its header and a format kind (money, pct, count, days, progress …). Its ``[common]`` columns
mean the same on every page; ``[tables.<name>]`` holds, per table, the columns whose header or
format differs there (``margin`` is a bundle's unit margin in 关联推荐, a gross margin
elsewhere). :func:`config` turns them into ``st.column_config`` for any DataFrame;
:func:`labels` gives the translated headers for frames shown without one.
tests/pages/test_headers.py checks that no page shows a raw column name.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.i18n import t

log = logging.getLogger(__name__)

# Number formats (Streamlit's printf-style): money in ¥ and every number with thousands
# separators, shares as percentages (DESIGN.md, UI conventions).
NUMBER_FORMATS = {
    "money": "¥%,.0f",
    "money1": "¥%,.1f",
    "money2": "¥%,.2f",
    "pct": "percent",
    "count": "%,d",
    "num0": "%,.0f",
    "num1": "%,.1f",
    "num2": "%,.2f",
    "num4": "%,.4f",
    "delta2": "%+,.2f",
    "days": "%,.1f",
    "hours": "%,.1f",
}
KINDS = (
    *NUMBER_FORMATS,
    "auto",  # the header only; Streamlit formats the values by their type
    "progress",  # a bar from 0 to 1, labelled as a percentage
    "score",  # a bar from 0 to 1, labelled with two decimals
    "check",
    "datetime",
    "datetime_s",
    "sparkline",
    "edit_num",  # an editable number that cannot go below 0
    "hidden",
)


@dataclass(frozen=True)
class Col:
    """One column's header (i18n keys, optionally put into a template) and format kind."""

    label: str | tuple[str, ...]
    kind: str = "auto"
    template: str = "{0}"  # e.g. "{0}（{1}）" for ("pr_price", "pr_now"); "#" for a fixed header

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; use one of {KINDS}")

    def header(self) -> str:
        """The header in the current language."""
        keys = (self.label,) if isinstance(self.label, str) else self.label
        return self.template.format(*(t(k) for k in keys))

    def config(self):
        """The ``st.column_config`` entry (``None`` hides the column)."""
        if self.kind == "hidden":
            return None
        cc, label, kind = st.column_config, self.header(), self.kind
        if kind in NUMBER_FORMATS:
            return cc.NumberColumn(label, format=NUMBER_FORMATS[kind])
        factories = {
            "auto": lambda: label,
            "progress": lambda: cc.ProgressColumn(
                label, format="percent", min_value=0.0, max_value=1.0
            ),
            "score": lambda: cc.ProgressColumn(label, format="%.2f", min_value=0.0, max_value=1.0),
            "check": lambda: cc.CheckboxColumn(label),
            "datetime": lambda: cc.DatetimeColumn(label, format="YYYY-MM-DD HH:mm"),
            "datetime_s": lambda: cc.DatetimeColumn(label, format="YYYY-MM-DD HH:mm:ss"),
            "sparkline": lambda: cc.LineChartColumn(label),
            "edit_num": lambda: cc.NumberColumn(label, min_value=0),
        }
        return factories[kind]()


HIDDEN = Col((), "hidden")
REGISTRY = Path(__file__).with_name("columns.toml")


def _col(value: str | list | dict | bool) -> Col:
    """A registry value: ``"key"``, ``["key", "kind"]``, ``false`` or ``{label, kind, template}``."""
    if value is False:
        return HIDDEN
    if isinstance(value, str):
        return Col(value)
    if isinstance(value, list):
        return Col(*value)
    label = value.get("label", ())
    label = label if isinstance(label, str) else tuple(label)
    return Col(label, value.get("kind", "auto"), value.get("template", "{0}"))


@cache
def registry() -> tuple[dict[str, Col], dict[str, dict[str, Col]]]:
    """The common columns and the per-table columns of ``columns.toml``."""
    with REGISTRY.open("rb") as f:
        raw = tomllib.load(f)
    common = {k: _col(v) for k, v in raw["common"].items()}
    tables = {name: {k: _col(v) for k, v in cols.items()} for name, cols in raw["tables"].items()}
    return common, tables


_KEYWORD = re.compile(r"^(\w+)\((.*)\)$")  # a rule metric with its keyword: mentions(低糖水果)


def lookup(table: str, column: str) -> Col | None:
    """The registered column of a table: its own entry first, then the common one.

    A rule metric with a keyword (``mentions(低糖水果)``) reads as its metric's header.
    """
    common, tables = registry()
    if table not in tables:
        raise KeyError(f"no table {table!r} in the column registry")
    col = tables[table].get(column) or common.get(column)
    if col is None and (m := _KEYWORD.match(column)):
        base = lookup(table, m.group(1))
        if base is not None:
            arg = m.group(2).replace("{", "{{").replace("}", "}}")
            return Col(base.label, base.kind, f"{base.template}({arg})")
    return col


def _resolve(table: str, column: str) -> Col:
    col = lookup(table, str(column))
    if col is None:
        log.warning("column %r of table %r has no header in dashboard/columns.toml", column, table)
        return Col((), "auto", str(column).replace("{", "{{").replace("}", "}}"))
    return col


def config(table: str, frame: pd.DataFrame, overrides: Mapping[str, object] | None = None) -> dict:
    """``st.column_config`` for every column (and a named index) of ``frame`` in ``table``.

    ``overrides`` maps a column to a :class:`Col`, an i18n key, ``None`` (hidden) or a ready
    ``st.column_config`` entry (e.g. a selectbox with options known only at run time).
    """
    extra = dict(overrides or {})
    out: dict[str, object] = {}
    names = [n for n in frame.index.names if n is not None]
    if len(names) == 1:
        out["_index"] = _entry(table, names[0], extra)
    for column in frame.columns:
        out[str(column)] = _entry(table, column, extra)
    return out


def _entry(table: str, column, extra: dict):
    if column in extra:
        val = extra[column]
        if val is None or isinstance(val, dict):
            return val
        return (val if isinstance(val, Col) else Col(str(val))).config()
    return _resolve(table, column).config()


def labels(table: str, frame: pd.DataFrame) -> dict[str, str]:
    """Translated header of each column of ``frame`` (for frames shown without a config)."""
    return {c: _resolve(table, c).header() for c in frame.columns}
