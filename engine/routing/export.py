"""Exports of a planned day: printable HTML pick lists and an Excel workbook / CSV tables."""

from __future__ import annotations

import html
import io

import pandas as pd

from engine import cells, clock
from engine.routing import dispatch, lists


def tables(day: dispatch.DayPlan) -> dict[str, pd.DataFrame]:
    """The day's tables by sheet name: routes, stops (visits), loading, picking, dropped.

    Parameters
    ----------
    day
        A planned day.

    Returns
    -------
    dict[str, pandas.DataFrame]
        Ready to write; times as ``HH:MM``, map paths left out.
    """
    routes = day.routes.drop(columns=["path"]).copy()
    for col in ("depart_min", "return_min"):
        routes[col] = routes[col].map(clock.hhmm)
    visits = day.route_stops.copy()
    for col in ("eta_min", "service_start_min", "window_start", "window_end"):
        visits[col] = visits[col].map(clock.hhmm)
    return {
        "routes": routes,
        "stops": visits,
        "loading": lists.loading_list(day),
        "picking": lists.pick_list(day),
        "dropped": day.dropped.copy(),
    }


def to_excel(day: dispatch.DayPlan) -> bytes:
    """An ``.xlsx`` workbook with one sheet per table of :func:`tables`.

    Parameters
    ----------
    day
        A planned day.

    Returns
    -------
    bytes
        The workbook; text cells that start like a formula are prefixed with ``'``.
    """
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        for name, df in tables(day).items():
            cells.neutralise(df).to_excel(writer, sheet_name=name, index=False)
    return buf.getvalue()


def to_csv(day: dispatch.DayPlan) -> dict[str, bytes]:
    """Each table of :func:`tables` as UTF-8 (with BOM, for Excel) CSV bytes."""
    return {
        name: cells.neutralise(df).to_csv(index=False).encode("utf-8-sig")
        for name, df in tables(day).items()
    }


def to_html(day: dispatch.DayPlan, title: str = "配送单 / Loading lists") -> str:
    """A printable HTML page: one section per vehicle with its stops and loading list.

    Parameters
    ----------
    day
        A planned day.
    title
        Page heading.

    Returns
    -------
    str
        A standalone HTML document (every value escaped), page break per vehicle.
    """
    loading = lists.loading_list(day)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #999;padding:2px 6px}"
        "section{page-break-after:always}</style></head><body>",
        f"<h1>{html.escape(title)} — {day.delivery_date.isoformat()}</h1>",
    ]
    for r in day.routes.itertuples():
        visits = day.route_stops[day.route_stops["vehicle_id"] == r.vehicle_id]
        stops = pd.DataFrame(
            {
                "#": visits["seq"],
                "趟 trip": visits["trip"],
                "自提点 pickup": visits["name"],
                "ETA": visits["eta_min"].map(clock.hhmm),
                "窗口 window": visits["window_end"].map(lambda m: "≤ " + clock.hhmm(m)),
                "kg": visits["kg"].round(1),
                "单数 orders": visits["orders"],
            }
        )
        load = loading[loading["vehicle_id"] == r.vehicle_id][
            ["trip", "load_seq", "seq", "name", "sku_name", "storage", "qty", "unit", "orders"]
        ]
        parts += [
            "<section>",
            f"<h2>{html.escape(str(r.plate))} — {r.stops} stops, {r.trips} trip(s), {r.km:.1f} km, "
            f"{r.load_kg:.0f} kg ({100 * r.load_pct:.0f} %), "
            f"depart {clock.hhmm(r.depart_min)}</h2>",
            "<h3>路线 Route</h3>",
            stops.to_html(index=False, escape=True),
            "<h3>装车单 Loading order (load first → last)</h3>",
            load.to_html(index=False, escape=True),
            "</section>",
        ]
    if not day.dropped.empty:
        parts += [
            "<h2>未安排 Not planned</h2>",
            day.dropped[["pickup_id", "name", "temp", "kg", "reason"]].to_html(
                index=False, escape=True
            ),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
