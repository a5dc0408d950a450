"""End-to-end fixtures: the app started as `make run` starts it, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from connectors.broker import free_port
from engine import dataset
from engine import db as dbmod
from engine.forecasting import store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("LINLI_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session")
def server(world_file, tmp_path_factory):
    """Run `python -m ops.serve` on a free port against a copy of the small world.

    ``LINLI_E2E_URL`` points the tests at an app that is already running instead.
    """
    if os.environ.get("LINLI_E2E_URL"):
        yield os.environ["LINLI_E2E_URL"].rstrip("/")
        return
    # Embedded broker + simulator, exactly as `make run` (no LINLI_MQTT_URL).
    yield from serve(world_file, tmp_path_factory)


def serve(world: Path, tmp_path_factory, fit: bool = True, **extra_env: str):
    """Run `python -m ops.serve` on a copy of ``world``; yield its URL, stop it afterwards.

    ``fit`` stores the demand model first, as the background job leaves it (the forecast page
    never fits itself); without it the app starts as on a database nobody has fitted yet.
    """
    db = tmp_path_factory.mktemp("e2e") / "linli.duckdb"
    shutil.copy(world, db)
    if fit:
        con = dbmod.connect(db)
        try:
            store.ensure(con, dataset.version(con))
        finally:
            con.close()
    port = free_port()
    env = dict(os.environ, LINLI_DB=str(db), LINLI_PORT=str(port), LINLI_AUTH="none")
    env.pop("LINLI_MQTT_URL", None)
    env.update(extra_env)
    log = open(tmp_path_factory.mktemp("e2e-log") / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited early; see {log.name}")
    else:
        raise RuntimeError(f"the app did not start in 90 s; see {log.name}")
    yield url
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; `make test` installs it with apt-get")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab of 1440×1000."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.js_errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()


_IDLE_JS = """(quiet) => {
    const busy = document.querySelector('[data-testid="stStatusWidget"]')
        || document.querySelector('[data-testid="stSpinner"]')
        || document.querySelector('[data-testid="stSkeleton"]')
        || document.querySelector('[data-stale="true"]');
    const now = Date.now();
    if (busy || window.__linliIdleSince === undefined) {
        window.__linliIdleSince = busy ? null : now;
        return false;
    }
    if (window.__linliIdleSince === null) { window.__linliIdleSince = now; return false; }
    return now - window.__linliIdleSince >= quiet;
}"""


def wait_for_app(pg, timeout_ms: int = 240_000, quiet_ms: int = 1_200) -> None:
    """Wait until the page has a title and Streamlit has been idle for `quiet_ms`.

    Idle means: no running indicator, no spinner, no skeleton and no stale element (the
    ones Streamlit greys out while it reruns), continuously for `quiet_ms`.
    """
    pg.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)
    pg.evaluate("() => { delete window.__linliIdleSince; }")
    pg.wait_for_function(_IDLE_JS, arg=quiet_ms, polling=200, timeout=timeout_ms)


def set_language(pg, lang: str) -> None:
    """Switch the sidebar language radio (Chinese is the default)."""
    if lang == "en":
        pg.get_by_text("English", exact=True).click()
        wait_for_app(pg)


def assert_clean(pg) -> None:
    """No exception box, no error alert, no uncaught JavaScript error."""
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.locator(
        '[data-testid="stException"]'
    ).first.inner_text()
    errs = pg.locator('[data-testid="stAlertContentError"]')
    assert errs.count() == 0, errs.first.inner_text()
    assert not pg.js_errors, pg.js_errors


def shot(pg, name: str) -> Path:
    """Save a screenshot of the whole page (the app scrolls inside stMain) under artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = pg.viewport_size
    height = pg.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]');
                   return m ? m.scrollHeight : document.body.scrollHeight; }"""
    )
    tall = max(size["height"], min(int(height), 8000))
    if tall != size["height"]:
        pg.set_viewport_size({"width": size["width"], "height": tall})
        pg.wait_for_timeout(800)  # charts re-layout to the new size
    try:
        pg.screenshot(path=str(path), full_page=True, timeout=120_000)
    finally:
        if tall != size["height"]:
            pg.set_viewport_size(size)
    return path


def canvas_colours(locator) -> int:
    """How many distinct colours an element shows (a blank canvas shows one or two)."""
    from io import BytesIO

    from PIL import Image

    img = Image.open(BytesIO(locator.screenshot(timeout=120_000))).convert("RGB")
    img = img.resize((max(1, img.width // 2), max(1, img.height // 2)))
    return len(img.getcolors(maxcolors=1 << 24) or [])


def plotly_points(pg, index: int = 0) -> int:
    """Number of data points in the `index`-th Plotly chart of the page."""
    return pg.evaluate(
        """(i) => { const g = document.querySelectorAll('.js-plotly-plot')[i];
                    if (!g || !g._fullData) return 0;
                    return g._fullData.reduce((n, t) => n + ((t.x || t.y || t.values || []).length), 0); }""",
        index,
    )


def grid_rows(locator) -> int:
    """Number of data rows a st.dataframe reports to assistive technology (header excluded)."""
    n = locator.locator('[role="grid"]').first.get_attribute("aria-rowcount", timeout=60_000)
    return int(n) - 1 if n else 0
