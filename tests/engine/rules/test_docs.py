"""docs/rules.md documents every metric, attribute, scope type, user tag, persona and keyword."""

from pathlib import Path

import pytest

from engine.rules import lexer, model

DOC = (Path(__file__).resolve().parents[3] / "docs" / "rules.md").read_text(encoding="utf-8")

NAMES = [
    *model.METRICS,
    *model.METRICS.values(),
    *model.ATTRIBUTES,
    *model.ATTRIBUTES.values(),
    *model.COMMUNITY_TYPES,
    *model.COMMUNITY_TYPES.values(),
    *model.USER_TAGS,
    *model.USER_TAGS.values(),
    *model.PERSONAS,
    *model.PERSONAS.values(),
]
KEYWORDS = [k for k, (kind, _) in lexer.KEYWORDS.items() if kind == "kw"]


@pytest.mark.parametrize("name", NAMES)
def test_every_name_is_documented(name):
    """Each metric, attribute, community type, user tag and persona appears in the docs."""
    if name.isascii():
        assert f"`{name}`" in DOC or f"`{name}(" in DOC, name
    else:
        assert name in DOC, name


@pytest.mark.parametrize("word", KEYWORDS)
def test_every_keyword_is_documented(word):
    """Each keyword the lexer knows appears in the docs (case-insensitive for English)."""
    assert word in DOC.lower() or word in DOC
