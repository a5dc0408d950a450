"""Seeded random rules round-trip through text; random garbage only ever raises RuleError."""

import datetime as dt
import random

import pytest

from engine import rules
from engine.rules import model

TEXTS = ["水果", 'a"b', "x\\y", "'); DROP TABLE skus; --", "低糖 水果", "UNION SELECT", "é ü"]


def random_condition(rng: random.Random, depth: int = 0) -> model.Condition:
    """A random condition tree (at most three levels deep)."""
    kind = rng.choice(
        ["cmp", "attr", "tag", "name", "launched"] + ["and", "or", "not"] * (depth < 2)
    )
    if kind == "cmp":
        name = rng.choice([m for m in model.METRICS if m not in model.AUDIENCE_METRICS])
        arg = rng.choice(TEXTS) if name in model.KEYWORD_METRICS else None
        value = rng.choice([0.0, 1.0, 3.0, 0.7, -0.5, 12345.0, 0.001])
        return model.Compare(model.Metric(name, arg), rng.choice(model.OPS), value)
    if kind == "attr":
        values = tuple(rng.sample(TEXTS, rng.randint(1, 3)))
        negate = len(values) == 1 and rng.random() < 0.5
        return model.AttrIn(rng.choice(list(model.ATTRIBUTES)), values, negate)
    if kind == "tag":
        return model.TagHas(rng.choice(TEXTS))
    if kind == "name":
        return model.NameHas(rng.choice(TEXTS))
    if kind == "launched":
        return rng.choice(
            [
                model.Launched(
                    "since", since=dt.date(2026, rng.randint(1, 12), rng.randint(1, 28))
                ),
                model.Launched("within", days=rng.randint(1, 90)),
                model.Launched("this_month"),
            ]
        )
    if kind == "not":
        return model.Not(random_condition(rng, depth + 1))
    parts = tuple(random_condition(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    return model.And(parts) if kind == "and" else model.Or(parts)


def random_rule(rng: random.Random) -> model.Rule:
    """A random valid rule."""
    scope = rng.choice(
        [
            model.CommunityFilter(),
            model.CommunityFilter("community", rng.choice(TEXTS)),
            model.CommunityFilter("community", rng.randint(1, 300)),
            model.CommunityFilter("type", rng.choice(list(model.COMMUNITY_TYPES))),
            model.CommunityFilter("region", rng.choice(TEXTS)),
        ]
    )
    audience = None
    if rng.random() < 0.4:
        kind = rng.choice(["tag", "persona"])
        table = model.USER_TAGS if kind == "tag" else model.PERSONAS
        audience = model.Audience(kind, rng.choice(list(table)), rng.random() < 0.5)
    rank_names = [m for m in model.METRICS if audience or m not in model.AUDIENCE_METRICS]
    name = rng.choice(rank_names)
    rank = model.Rank(
        model.Metric(name, "低糖水果" if name in model.KEYWORD_METRICS else None),
        rng.random() < 0.5,
    )
    where = random_condition(rng) if rng.random() < 0.9 else None
    return model.Rule(scope, rng.randint(1, 365), audience, where, rank, rng.randint(1, 1000))


@pytest.mark.parametrize("seed", range(5))
def test_random_rules_round_trip(seed):
    """200 random rules per seed print to zh and en text that parses back to the same rule."""
    rng = random.Random(seed)
    for _ in range(200):
        rule = random_rule(rng)
        for lang in ("zh", "en"):
            text = rules.to_text(rule, lang)
            assert rules.parse(text) == rule, text
            assert rules.to_text(rules.parse(text), lang) == text


ALPHABET = list(
    "范围小区过去天筛选且或非排序降序前() ,\"'<>=!.-0123456789abcdeghilnorstvw浏览量销量@;#%“”"
)


@pytest.mark.parametrize("seed", range(5))
def test_garbage_raises_only_rule_error(seed):
    """Random token soup either parses or raises RuleError with a position inside the text."""
    rng = random.Random(1000 + seed)
    words = [
        "范围",
        "全部",
        "过去",
        "30",
        "天",
        "筛选",
        "浏览量",
        ">=",
        "且",
        "或",
        "非",
        "(",
        ")",
        "排序",
        "降序",
        "前",
        "10",
        '"x"',
        "类目",
        "属于",
        "上新",
        "本月",
        "话题热度",
        "where",
    ]
    for _ in range(300):
        if rng.random() < 0.5:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        try:
            rules.parse(text)
        except rules.RuleError as exc:
            assert 0 <= exc.position <= len(text), (text, exc.position)
            assert exc.message
