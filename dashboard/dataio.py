"""数据管理 page services: read uploads, validate and import, database status, demo world."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from connectors import files, geojson, mapping, tables
from connectors.validation import ImportFileError, ImportReport
from dashboard import columns, db
from dashboard.i18n import t
from engine import afterload, dataset
from engine import db as dbmod

REASON_KINDS = (
    "bad_type",
    "missing_value",
    "negative",
    "future",
    "formula",
    "duplicate_in_file",
    "duplicate_in_db",
    "missing_reference",
    "out_of_range",
    "unknown_value",
    "too_long",
    "exceeds",
    "before_signup",
    "not_one_of",
    "ends_before_start",
    "expiry_before_receipt",
    "received_after_stock_date",
    "tmin_above_tmax",
    "holiday_and_workday",
)
SCALES = ("small", "demo")


@st.cache_data(show_spinner=False, max_entries=4)
def read_upload(data: bytes, name: str) -> files.FileContent:
    """Parse an uploaded file once per content (see :func:`connectors.files.read`)."""
    return files.read(data, name=name)


def error_text(exc: ImportFileError) -> str:
    """A translated headline for an import error, followed by its details."""
    return f"**{t('data_err_' + exc.code)}** — {exc}"


def reason_text(reason: str) -> str:
    """``bad_type:qty`` → 「类型错误 · qty」."""
    kind, _, column = reason.partition(":")
    label = t("data_reason_" + kind) if kind in REASON_KINDS else kind
    return f"{label} · {column}" if column else label


def mapping_frame(sheet: files.Sheet, table: str) -> pd.DataFrame:
    """Editable mapping rows: file header, a sample value, and the guessed table column."""
    guess = mapping.guess_mapping(sheet.headers, table)
    first = sheet.data.slice(0, 1).to_pylist()
    sample = first[0] if first else {}
    return pd.DataFrame(
        {
            "header": sheet.headers,
            "sample": [
                None if sample.get(h) is None else str(sample.get(h)) for h in sheet.headers
            ],
            "column": [guess.get(h, "") for h in sheet.headers],
        }
    )


def table_columns(table: str) -> list[str]:
    """The columns a mapping may target (required ones first)."""
    spec = tables.spec(table)
    return [*spec.required, *[c for c in spec.names if c not in spec.required]]


def _run(
    content: files.FileContent,
    targets: Mapping[str, str],
    mappings: Mapping[str, Mapping[str, str]],
    on_error: str,
    dry_run: bool,
) -> ImportReport:
    return files.import_content(
        db.cursor(), content, targets, mappings, on_error=on_error, dry_run=dry_run
    )


def validate(
    content: files.FileContent,
    targets: Mapping[str, str],
    mappings: Mapping[str, Mapping[str, str]],
    on_error: str = "quarantine",
) -> ImportReport:
    """Check a file against the database without writing anything."""
    return _run(content, targets, mappings, on_error, dry_run=True)


def run_import(
    content: files.FileContent,
    targets: Mapping[str, str],
    mappings: Mapping[str, Mapping[str, str]],
    on_error: str = "quarantine",
    username: str | None = None,
) -> ImportReport:
    """Import a file; when rows were written, run the after-load step (rollups, version, audit).

    Cached page data are keyed by the data version, so every page shows the new rows.
    """
    report = _run(content, targets, mappings, on_error, dry_run=False)
    if report.written:
        afterload.run(
            db.cursor(),
            load_id=report.import_id,
            source=report.source,
            loaded=report.rows_loaded,
            rejected=report.rows_rejected,
            username=username,
            days=report.days,
            tables=report.tables_loaded,
        )
    return report


def import_boundaries(data: bytes, name: str, username: str | None = None) -> None:
    """A GeoJSON of service areas: a button that replaces the outlines, then the outcome."""
    st.caption(t("av_geo_intro"))
    if not st.button(t("av_geo_import"), type="primary", key="data_geo_import"):
        return
    try:
        report = geojson.load(db.cursor(), data, name, username=username)
    except geojson.GeoJsonError as exc:
        st.error(f"**{t('av_geo_refused')}** — {exc}", icon=":material/error:")
        return
    st.success(
        t("av_geo_loaded", loaded=report.loaded, rejected=len(report.rejected)),
        icon=":material/check_circle:",
    )
    for n, why in report.rejected:
        st.caption(f"#{n}: {why}")


def report_frames(report: ImportReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-table counts and per-problem counts, with translated problem names."""
    counts = pd.DataFrame(
        [
            (r.table, r.rows_in, r.rows_valid, r.rows_rejected, r.rows_skipped)
            for r in report.tables
        ],
        columns=["table", "rows_in", "rows_valid", "rows_rejected", "rows_skipped"],
    )
    problems = report.problems()
    problems["problem"] = problems["reason"].map(reason_text)
    return counts, problems[["table", "problem", "rows", "reason"]]


def show_report(report: ImportReport) -> None:
    """Render a validation or import report: outcome, counts, problems with first rows."""
    if report.already_imported:
        st.info(t("data_already_imported"), icon=":material/content_copy:")
        return
    counts, problems = report_frames(report)
    if report.written:
        st.success(
            t("data_imported", loaded=report.rows_loaded, rejected=report.rows_rejected),
            icon=":material/check_circle:",
        )
    elif report.rows_rejected:
        st.warning(
            t("data_checked_problems", rejected=report.rows_rejected), icon=":material/rule:"
        )
    else:
        st.success(t("data_checked_ok", rows=report.rows_in), icon=":material/rule:")
    st.dataframe(
        counts, hide_index=True, width="stretch", column_config=columns.config("data", counts)
    )
    if problems.empty:
        return
    st.subheader(t("data_problems"))
    problems = problems.drop(columns="reason")
    st.dataframe(
        problems,
        hide_index=True,
        width="stretch",
        column_config=columns.config("data", problems),
    )
    for rep in report.tables:
        for reason, frame in rep.examples.items():
            with st.expander(f"{rep.table} · {reason_text(reason)} ({rep.problems[reason]})"):
                st.dataframe(frame, hide_index=True, width="stretch")


@st.cache_data(show_spinner=False, ttl=5)
def status(version: str) -> dict:
    """Database facts: path, schema version, tables with row counts, recent imports."""
    info = dataset.status(db.cursor())
    return {
        "path": str(dbmod.db_path()),
        "schema_version": info.schema_version,
        "tables": info.tables,
        "imports": info.imports,
        "quarantined": info.quarantined,
        "scale": info.scale,
        "seed": info.seed,
        "as_of": info.as_of,
    }


def quarantine(limit: int = 1000) -> pd.DataFrame:
    """The most recent rejected rows with their reasons."""
    return dataset.quarantine(db.cursor(), limit)


def template(table: str) -> pd.DataFrame:
    """An empty table with Chinese headers the importer recognises, required columns first."""
    heads = [mapping.header(table, c) for c in table_columns(table)]
    return pd.DataFrame(columns=heads)


def regenerate(scale: str, seed: int, progress=None) -> Path:
    """Generate a new demo world into a new file next to the current database.

    The running app keeps its open file (DuckDB allows one writer per file); the new world is
    used after a restart with ``LINLI_DB`` pointing at the returned path.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}")
    from data import generate

    here = dbmod.db_path().resolve()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = here.with_name(f"linli-{scale}-seed{int(seed)}-{stamp}.duckdb")
    con = generate.generate(target, scale=scale, seed=int(seed), progress=progress)
    con.close()
    return target
