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

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("LINLI_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(world_file, tmp_path_factory):
    """Run `python -m dashboard.serve` on a free port against a copy of the small world."""
    db = tmp_path_factory.mktemp("e2e") / "linli.duckdb"
    shutil.copy(world_file, db)
    port = _free_port()
    env = dict(os.environ, LINLI_DB=str(db), LINLI_PORT=str(port), LINLI_AUTH="none")
    env.pop("LINLI_MQTT_URL", None)  # embedded broker + simulator, exactly as `make run`
    log = open(tmp_path_factory.mktemp("e2e-log") / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.serve"],
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


def wait_for_app(pg, timeout_ms: int = 150_000) -> None:
    """Wait until Streamlit has finished running the script."""
    pg.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)
    pg.wait_for_timeout(500)
    pg.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')""",
        timeout=timeout_ms,
    )
    pg.wait_for_timeout(1500)


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
    """Save a full-page screenshot under artifacts/screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True, timeout=120_000)
    return path
