"""Saved rules (table ``saved_rules``): save, load, list, delete, and the seeded library.

Only rules that parse are saved; the text is stored as written by the user, so a saved rule
reads back exactly as it was typed. Saving and deleting are recorded in the audit log
(:mod:`engine.audit`).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from engine import audit
from engine.rules import parser

# The seeds' two examples (the issue's specification) and the language's baseline rules.
# 库存充足 = what can be on the shelf on the sale day (stock, in transit, and what the supplier can
# still deliver in time) covers at least a day of sales: in a pre-sale (以销定采) business fresh
# goods are bought for the orders, so on-hand days (库存天数) would drop them all.
# 高客单价 = price in the top 30 % of its category.
SEEDS: tuple[tuple[str, str], ...] = (
    (
        "云顶华府 浏览TOP10 库存充足 高客单价",
        '范围 小区 "云顶华府" 过去 30 天 筛选 可供天数 >= 1 且 单价分位 >= 0.7 '
        "排序 浏览量 降序 前 10",
    ),
    (
        "儿童用户 本月新上市 无添加果泥",
        '范围 全部 过去 30 天 人群 标签 "儿童" 筛选 上新 本月 且 名称 包含 "果泥" 且 '
        '标签 包含 "无添加" 排序 销量 降序 前 10',
    ),
    ("上周畅销 (基线)", "范围 全部 过去 7 天 排序 销量 降序 前 10"),
    (
        "低糖水果 话题升温",
        '范围 全部 过去 7 天 筛选 话题趋势("低糖水果") >= 2 且 话题热度("低糖水果") >= 6 且 '
        '标签 包含 "低糖" 且 类目 = "水果" 排序 浏览量 降序 前 10',
    ),
)
SEED_AUTHOR = "linli"
# Earlier texts of seed rules: a library still holding one, as seeded, gets the current text.
PREVIOUS_SEEDS: dict[str, tuple[str, ...]] = {
    "云顶华府 浏览TOP10 库存充足 高客单价": (
        '范围 小区 "云顶华府" 过去 30 天 筛选 库存天数 >= 3 且 单价分位 >= 0.7 '
        "排序 浏览量 降序 前 10",
    ),
}


def save(con: duckdb.DuckDBPyConnection, name: str, text: str, author: str) -> int:
    """Save a rule under a name, replacing the text of an existing rule of that name.

    Parameters
    ----------
    con
        An open, writable connection.
    name
        The rule's unique name (1..100 characters).
    text
        The rule text; it must parse.
    author
        Who saves it.

    Returns
    -------
    int
        The rule's id.

    Raises
    ------
    RuleError
        When the text does not parse.
    ValueError
        When the name or author is empty or too long.
    """
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValueError("a rule name must have 1 to 100 characters")
    if not (author or "").strip():
        raise ValueError("the author must not be empty")
    parser.parse(text)
    now = dt.datetime.now().replace(microsecond=0)
    cur = con.cursor()
    row = cur.execute("SELECT rule_id FROM saved_rules WHERE name = ?", [name]).fetchall()
    if row:
        cur.execute(
            "UPDATE saved_rules SET text = ?, author = ?, updated_at = ? WHERE rule_id = ?",
            [text, author, now, row[0][0]],
        )
    else:
        cur.execute(
            "INSERT INTO saved_rules (rule_id, name, text, author, created_at, updated_at) "
            "SELECT coalesce(max(rule_id), 0) + 1, ?, ?, ?, ?, ? FROM saved_rules",
            [name, text, author, now, now],
        )
    audit.record(cur, author, "rule_saved", {"name": name})
    rows = cur.execute("SELECT rule_id FROM saved_rules WHERE name = ?", [name]).fetchall()
    return int(rows[0][0])


def load(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Return the text of the saved rule with this name.

    Parameters
    ----------
    con
        An open connection.
    name
        The rule's name.

    Returns
    -------
    str
        The rule text.

    Raises
    ------
    KeyError
        When no rule has that name.
    """
    rows = con.cursor().execute("SELECT text FROM saved_rules WHERE name = ?", [name]).fetchall()
    if not rows:
        raise KeyError(f"no saved rule named {name!r}")
    return str(rows[0][0])


def list_rules(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return all saved rules (rule_id, name, text, author, created_at, updated_at) by name.

    Parameters
    ----------
    con
        An open connection.

    Returns
    -------
    pandas.DataFrame
        One row per saved rule.
    """
    return (
        con.cursor()
        .execute(
            "SELECT rule_id, name, text, author, created_at, updated_at FROM saved_rules "
            "ORDER BY rule_id"
        )
        .df()
    )


def delete(con: duckdb.DuckDBPyConnection, name: str, username: str = "") -> bool:
    """Delete a saved rule; return whether one was deleted.

    Parameters
    ----------
    con
        An open, writable connection.
    name
        The rule's name.
    username
        Who deletes it (for the audit log).

    Returns
    -------
    bool
        True when a rule of that name existed.
    """
    cur = con.cursor()
    n = cur.execute("SELECT count(*) FROM saved_rules WHERE name = ?", [name]).fetchall()[0][0]
    cur.execute("DELETE FROM saved_rules WHERE name = ?", [name])
    if n:
        audit.record(cur, username, "rule_deleted", {"name": name})
    return bool(n)


def seed_library(con: duckdb.DuckDBPyConnection) -> int:
    """Add the seed rules that are missing (by name); existing rules are left untouched,
    except a seed rule still holding an earlier seed text as seeded (author ``linli``),
    which gets the current text (:data:`PREVIOUS_SEEDS`).

    Parameters
    ----------
    con
        An open, writable connection.

    Returns
    -------
    int
        How many rules were added (updated seeds not counted).
    """
    saved = list_rules(con).set_index("name")
    added = 0
    for name, text in SEEDS:
        if name not in saved.index:
            save(con, name, text, SEED_AUTHOR)
            added += 1
        elif saved.at[name, "author"] == SEED_AUTHOR and saved.at[
            name, "text"
        ] in PREVIOUS_SEEDS.get(name, ()):
            save(con, name, text, SEED_AUTHOR)
    return added
