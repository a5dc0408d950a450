"""Forecast and plan pages: time to open, warm and right after a data change (issue 18).

Usage::

    python -m bench.page_open --db /tmp/linli-demo.duckdb

Works on a copy of the file. Fits and stores the demand model once (as the background job
does), then opens each page through Streamlit's AppTest (the real script, caches as in the
app): first open in a fresh process, a warm re-open, and an open right after the data
version changes (the model then refits in the background while the page shows the stored
fit). Times are wall clock on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import Figure, emit
from engine import dataset
from engine import db as dbmod
from engine.forecasting import store

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"forecast": ROOT / "pages" / "forecast.py", "plan": ROOT / "pages" / "plan.py"}


def _open(at, page: Path) -> float:
    """Seconds to switch to a page and run it."""
    t0 = time.perf_counter()
    at.switch_page(str(page)).run()
    took = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page.name}: {[e.value for e in at.exception]}")
    return took


def main(argv: list[str] | None = None) -> None:
    """Measure and emit the page-open figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", default="/tmp/linli-demo.duckdb")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp()) / "bench.duckdb"
    shutil.copy(args.db, work)
    con = dbmod.connect(work)
    scale = dbmod.get_meta(con, "scale")
    t0 = time.perf_counter()
    stored = store.ensure(con, dataset.version(con))
    fit_s = time.perf_counter() - t0
    con.close()
    os.environ.update(LINLI_DB=str(work), LINLI_AUTH="none", LINLI_MQTT_URL="none")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.session_state["lang"] = "zh"
    at.run()
    times: dict[str, float] = {}
    for name, page in PAGES.items():
        times[f"{name} first"] = _open(at, page)
        times[f"{name} warm"] = _open(at, page)
    # A data change: what the after-load step does to the version (a new data_version).
    con = dbmod.connect(work)
    dbmod.set_meta(con, "data_version", "bench-" + str(time.time()))
    version = dataset.version(con)
    for name, page in PAGES.items():
        times[f"{name} after change"] = _open(at, page)
    job = store.job(con, version)
    t0 = time.perf_counter()
    if job is not None and job.thread is not None:
        job.thread.join()
    refit_s = time.perf_counter() - t0
    con.close()
    load = os.getloadavg()[0]
    for k, v in times.items():
        print(f"{k}: {v:.2f} s")
    print(
        f"fit {fit_s:.1f} s (stored fit {stored.seconds:.1f} s); background refit finished "
        f"{refit_s:.1f} s after the last page open; 1-min load {load:.1f}"
    )
    figures = [
        Figure(
            f"{name} page open: first / warm / after a data change",
            "warm ≤ 2 s; after a data change ≤ 5 s",
            f"{times[name + ' first']:.2f} s / {times[name + ' warm']:.2f} s / "
            f"{times[name + ' after change']:.2f} s",
            scale,
            times[name + " warm"] <= 2 and times[name + " after change"] <= 5,
        )
        for name in PAGES
    ]
    figures.append(
        Figure(
            "demand model fit (background, once per data version)",
            "—",
            f"{stored.seconds:.1f} s",
            scale,
        )
    )
    emit(
        "page_open",
        figures,
        note=f"python -m bench.page_open --db <demo world seed 7>; AppTest, 2 cores shared "
        f"with other agents, 1-min load {load:.1f} at the end",
    )


if __name__ == "__main__":
    main()
