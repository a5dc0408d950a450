"""Saved rules: save, update, load, list, delete and the seeded library."""

import pytest

from engine import rules
from engine.rules import library
from tests.engine.rules import tiny


@pytest.fixture
def con():
    """A fresh tiny world per test (these tests write)."""
    c = tiny.build()
    yield c
    c.close()


def test_seed_library_has_the_seed_examples_and_they_run(con):
    """Seeding adds the two seed examples (plus baseline and trend) once; each parses and runs."""
    assert library.seed_library(con) == len(library.SEEDS)
    assert library.seed_library(con) == 0
    saved = library.list_rules(con)
    assert len(saved) == len(library.SEEDS)
    assert "云顶华府" in saved.iloc[0]["text"] and "果泥" in saved.iloc[1]["text"]
    for text in saved["text"]:
        rules.evaluate(con, text)
    kids = rules.evaluate(con, library.load(con, "儿童用户 本月新上市 无添加果泥"))
    assert set(kids["sku_id"]) == {4}


def test_seed_library_updates_an_untouched_earlier_seed_text(con):
    """A library seeded with the old 库存天数 text gets the availability text; a user's own
    edit of the same rule is kept."""
    name = "云顶华府 浏览TOP10 库存充足 高客单价"
    old = library.PREVIOUS_SEEDS[name][0]
    library.save(con, name, old, library.SEED_AUTHOR)
    library.seed_library(con)
    assert library.load(con, name) == dict(library.SEEDS)[name]
    library.save(con, name, old, "alice")
    library.seed_library(con)
    assert library.load(con, name) == old


def test_save_update_load_delete(con):
    """Saving a name twice updates text and updated_at, keeps id; delete removes it."""
    rid = library.save(con, "我的规则", "前 5", "alice")
    first = library.list_rules(con).set_index("name").loc["我的规则"]
    rid2 = library.save(con, "我的规则", "前 6", "bob")
    row = library.list_rules(con).set_index("name").loc["我的规则"]
    assert rid == rid2 and row["text"] == "前 6" and row["author"] == "bob"
    assert row["created_at"] == first["created_at"] and row["updated_at"] >= first["updated_at"]
    assert library.load(con, "我的规则") == "前 6"
    assert library.delete(con, "我的规则", "carol") and not library.delete(con, "我的规则")
    log = con.execute(
        "SELECT username, action, detail FROM audit_log ORDER BY logged_at"
    ).fetchall()
    assert log == [
        ("alice", "rule_saved", '{"name": "我的规则"}'),
        ("bob", "rule_saved", '{"name": "我的规则"}'),
        ("carol", "rule_deleted", '{"name": "我的规则"}'),
    ]
    with pytest.raises(KeyError):
        library.load(con, "我的规则")


def test_save_refuses_bad_rules_and_names(con):
    """A rule that does not parse, or an empty name, is not saved."""
    with pytest.raises(rules.RuleError):
        library.save(con, "坏", "筛选 浏览量 >", "alice")
    with pytest.raises(ValueError, match="name"):
        library.save(con, "  ", "前 5", "alice")
    assert library.list_rules(con).empty


def test_hostile_name_and_text_stored_verbatim(con):
    """Names and texts with quotes and SQL are stored and loaded back verbatim."""
    name = "x'); DROP TABLE saved_rules; --"
    text = '筛选 名称 包含 "\'); DROP TABLE skus; --" 前 3'
    library.save(con, name, text, "o'brien")
    assert library.load(con, name) == text
    assert library.list_rules(con)["author"].tolist() == ["o'brien"]
