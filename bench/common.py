"""Shared helpers for benchmark scripts: machine description, timing, result tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


@dataclass(frozen=True)
class Figure:
    """One measured figure against its goal."""

    figure: str
    goal: str
    measured: str
    scale: str
    ok: bool | None = None


def machine() -> str:
    """A one-line description of this machine."""
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores{mem}"


def median_ms(fn: Callable[[], object], repeat: int = 15, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds after warm-up calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def emit(name: str, figures: list[Figure], note: str = "") -> None:
    """Print a Markdown table of figures and save them as JSON for `make bench`."""
    print(f"\n### {name}\n")
    print(f"Machine: {machine()}. {note}".rstrip())
    print()
    print("| figure | goal | measured | scale | met |")
    print("|---|---|---|---|---|")
    for f in figures:
        met = "—" if f.ok is None else ("yes" if f.ok else "**no**")
        print(f"| {f.figure} | {f.goal} | {f.measured} | {f.scale} | {met} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "name": name,
                "machine": machine(),
                "note": note,
                "figures": [asdict(f) for f in figures],
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
