"""Every registered page renders in both languages, with the global filters applied."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard import nav

PAGES = [str(p.file) for p in nav.PAGES]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(app, page, lang):
    """The page runs to the end with no exception and no error box."""
    at = app(lang)
    at.run()
    if page != PAGES[0]:
        at.switch_page(str(nav.ROOT / page)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title


def test_overview_shows_kpis_in_chinese_by_default(app):
    """The default language is Chinese and the 12 KPI cards carry ¥ and % formats."""
    at = app()
    del at.session_state["lang"]
    at.run()
    labels = [m.label for m in at.metric]
    assert "成团率" in labels and "GMV（净）" in labels and len(labels) == 12
    values = {m.label: m.value for m in at.metric}
    assert values["GMV（净）"].startswith("¥") and "," in values["GMV（净）"]
    assert values["成团率"].endswith("%")


def test_overview_region_filter_changes_figures(app):
    """Selecting one region lowers GMV below the all-region figure."""
    at = app("en")
    at.run()
    total = next(m.value for m in at.metric if m.label == "GMV (net)")
    at.sidebar.multiselect[0].select(1).run()
    one = next(m.value for m in at.metric if m.label == "GMV (net)")
    as_num = lambda s: float(s.replace("¥", "").replace(",", ""))  # noqa: E731
    assert 0 < as_num(one) < as_num(total)
    assert not at.exception


def test_overview_empty_period_says_so(app):
    """A date range with no orders shows an informative note instead of charts."""
    at = app("en")
    at.run()
    at.sidebar.date_input[0].set_value((date(2026, 8, 27), date(2026, 8, 27))).run()
    assert not at.exception
    at.sidebar.multiselect[0].select(3).run()
    assert not at.exception


def test_overview_tables_are_downloadable(app):
    """Region, community and category tables each offer CSV and Excel downloads."""
    at = app("en")
    at.run()
    assert len(at.dataframe) >= 4
    buttons = [b for b in at.get("download_button")]
    assert len(buttons) >= 6


def test_locked_database_is_explained(app, monkeypatch, tmp_path):
    """A database held by another process shows a clear error, not a traceback."""
    import subprocess
    import sys
    import textwrap

    locked = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(locked)!r}); print("ready", flush=True); time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("LINLI_DB", str(locked))
        at = app("en")
        at.run()
        assert not at.exception
        assert any("in use by another process" in e.value for e in at.error)
    finally:
        holder.kill()
        holder.wait()
