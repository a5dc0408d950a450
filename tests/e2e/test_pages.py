"""Every page in a real browser, in both languages, with its main action performed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import nav
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


def test_overview_filter_by_region(server, page):
    """Choosing a region in the sidebar reruns the Overview without errors."""
    page.goto(f"{server}/")
    wait_for_app(page)
    page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
    page.locator('[role="option"]').first.click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    assert_clean(page)
    assert page.locator('[data-testid="stMetric"]').count() == 12
    assert page.locator(".js-plotly-plot").count() >= 3
