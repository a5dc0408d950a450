"""Names in Markdown: a backtick or other Markdown in a name cannot change the page's text.

Community, leader, region, sheet, rule and user names reach captions and messages, which
Streamlit renders as Markdown; :func:`dashboard.components.md` escapes them at that one step.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest
from markdown_it import MarkdownIt

from dashboard import components as ui
from dashboard import nav

HOSTILE_NAMES = [
    "云顶`华府",
    "```code fence",
    "**粗体** and _it_",
    "[点我](http://evil.example)",
    "![x](http://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "# 标题",
    "1. list item",
    "- bullet",
    "> quote",
    "a | b | c",
    "~~struck~~",
    "&lt;tag&gt;",
    "back\\`slash",
    "two\nlines",
    "trailing \\",
]


def _rendered_text(source: str) -> tuple[str, set[str]]:
    """CommonMark (with tables and strikethrough): the visible text and the token types."""
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(source)
    text, kinds = [], set()
    for tok in tokens:
        kinds.add(tok.type)
        for child in tok.children or []:
            kinds.add(child.type)
            if child.type == "text":
                text.append(child.content)
    return "".join(text), kinds


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_escaped_name_renders_as_typed(name):
    """The escaped name renders as one plain paragraph whose text is the name itself."""
    shown, kinds = _rendered_text(f"团长 {ui.md(name)} · 区域")
    assert shown == f"团长 {' '.join(name.splitlines())} · 区域"
    assert kinds <= {"paragraph_open", "paragraph_close", "inline", "text"}, kinds


@pytest.mark.parametrize("name", ["$x^2$", ":red[红色]", ":material/lock:", "价格 $5"])
def test_streamlit_directives_are_escaped(name):
    """Streamlit's own Markdown (LaTeX $, :colour[...], :material/icon:) is escaped too."""
    out = ui.md(name)
    assert "$" not in out.replace("\\$", "") and ":" not in out.replace("\\:", "")


def test_community_page_caption_with_a_backtick(app, world_file, tmp_path, monkeypatch):
    """A leader and region named with backticks and Markdown show escaped in the caption."""
    path = tmp_path / "names.duckdb"
    shutil.copy(world_file, path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE leaders SET name = '王`阿姨 **VIP**'")
    con.execute("UPDATE regions SET name = '岳麓`区 $1$'")
    con.close()
    monkeypatch.setenv("LINLI_DB", str(path))
    at = app("en")
    at.run()
    at.switch_page(str(nav.ROOT / "pages" / "communities.py")).run()
    assert not at.exception
    captions = [c.value for c in at.caption if "王" in c.value]
    assert captions, [c.value for c in at.caption]
    shown, kinds = _rendered_text(captions[0])
    assert "王`阿姨 **VIP**" in shown and "岳麓`区 $1$" in shown
    assert "code_inline" not in kinds and "strong_open" not in kinds
    assert "\\$1\\$" in captions[0]
