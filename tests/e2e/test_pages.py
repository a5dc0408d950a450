"""Every page in a real browser, in both languages, with its main action performed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import i18n, nav
from tests.e2e.conftest import assert_clean, set_language, shot, wait_for_app

PAGES = [Path(p.path).stem for p in nav.PAGES]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("stem", PAGES)
def test_page_in_browser(server, page, stem, lang):
    """The page loads, shows content and no error; a screenshot is saved."""
    page.goto(f"{server}/{'' if stem == PAGES[0] else stem}")
    wait_for_app(page)
    set_language(page, lang)
    assert page.locator("h1").count() >= 1
    assert_clean(page)
    path = shot(page, f"{stem}-{lang}")
    assert path.stat().st_size > 20_000  # a blank page is a few kB


@pytest.mark.parametrize("entry", nav.PAGES, ids=lambda p: p.stem)
def test_every_page_has_a_url_of_its_own(server, page, entry):
    """/<stem> opens that page (a bookmark works), never "Page not found"."""
    page.goto(f"{server}/{entry.stem}")
    title = page.locator('[data-testid="stMain"] h1').first
    title.wait_for(timeout=240_000)
    assert title.inner_text() == i18n.table()[entry.title_key]["zh"]
    assert page.get_by_text("Page not found").count() == 0
    assert page.url.rstrip("/").endswith(f"/{entry.stem}")


def test_root_opens_the_first_page_at_its_url(server, page):
    """/ opens the Overview and shows its own address, /overview."""
    page.goto(f"{server}/")
    title = page.locator('[data-testid="stMain"] h1').first
    title.wait_for(timeout=240_000)
    assert title.inner_text() == i18n.table()["page_overview"]["zh"]
    page.wait_for_url("**/overview", timeout=30_000)
    assert page.get_by_text("Page not found").count() == 0
