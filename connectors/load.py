"""Command line: export every input table, or load files into a (new) Linli database.

Usage::

    python -m connectors.load --db linli.duckdb --export DIR      # DIR/<table>.csv, every table
    python -m connectors.load --db new.duckdb --new DIR           # a new database from files
    python -m connectors.load --db linli.duckdb 2026-12-03/       # the nightly load
    python -m connectors.load --db linli.duckdb 订单.xlsx 明细.csv
    python -m connectors.load --db linli.duckdb --lake lake/ 2026-12-03/   # + the Parquet lake

A directory stands for every ``<table>.csv|tsv|txt|xlsx|xlsm|parquet|pq`` in it, loaded
parents first (:data:`connectors.tables.LOAD_ORDER`); a file named after a table goes to that
table, any other file to the table its headers show. Each file is checked and loaded on its
own, atomically (:mod:`connectors.validation`); after the last file the one after-load step
(:func:`engine.afterload.run`) refreshes the rollups for the days the new rows touched. The
exit code is 1 when a file was refused, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

import duckdb

from connectors import files, tables, validation
from engine import afterload, cells
from engine import db as dbmod

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet", ".pq")


@dataclass
class LoadResult:
    """What a load did: one report per file loaded, the files refused and why."""

    reports: list[validation.ImportReport] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, message)
    empty: list[str] = field(default_factory=list)  # header-only files: nothing to load
    ignored: list[str] = field(default_factory=list)  # files in a directory named after no table

    @property
    def rows_loaded(self) -> int:
        """Rows written over all files."""
        return sum(r.rows_loaded for r in self.reports)

    @property
    def rows_rejected(self) -> int:
        """Rows quarantined over all files."""
        return sum(r.rows_rejected for r in self.reports if r.written)


def _select(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SELECT of a table in the import format: schema columns in spec order, rows in stored
    order, lists as ``a, b``, text a spreadsheet would run as a formula behind an apostrophe."""
    spec = tables.spec(table)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = 'main'",
            [table],
        ).fetchall()
    )
    triggers = ", ".join(f"chr({ord(t)})" for t in cells.TRIGGERS)
    cols = []
    for c in spec.columns:
        name = f'"{c.name}"'  # spec names are the schema's identifiers
        if types[c.name].endswith("[]"):
            cols.append(f"array_to_string({name}, ', ') AS {name}")
        elif types[c.name] == "VARCHAR":
            cols.append(
                f"CASE WHEN list_contains([{triggers}], left({name}, 1)) THEN chr(39) || {name} "
                f"ELSE {name} END AS {name}"
            )
        else:
            cols.append(name)
    # Stored order, not key order: the reloaded table is the same table, row for row.
    return f'SELECT {", ".join(cols)} FROM "{table}"'


def export(con: duckdb.DuckDBPyConnection, directory: str | Path) -> dict[str, int]:
    """Write every input table as ``<directory>/<table>.csv`` in the import format.

    Parameters
    ----------
    con
        A Linli database.
    directory
        Created when missing; files of the same names are overwritten.

    Returns
    -------
    dict
        ``{table: rows written}``, in load order (empty tables give a header-only file).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in tables.LOAD_ORDER:
        path = out / f"{table}.csv"
        con.execute(f"COPY ({_select(con, table)}) TO '{_literal(path)}' (HEADER, DELIMITER ',')")
        counts[table] = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
    return counts


def _literal(path: Path) -> str:
    """A path as the body of an SQL string literal (COPY takes no parameter)."""
    return str(path).replace("'", "''")


def plan(paths: Iterable[str | Path]) -> list[tuple[Path, str | None]]:
    """The files to load, parents first, each with its table when its name says it.

    Parameters
    ----------
    paths
        Files and directories; a directory contributes its ``<table>.<suffix>`` files.

    Returns
    -------
    list
        ``(file, table or None)``: tables in load order, then files whose table is guessed
        from their headers, in the order given.

    Raises
    ------
    FileNotFoundError
        For a path that does not exist.
    """
    named: list[tuple[Path, str]] = []
    other: list[tuple[Path, str | None]] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
        if p.is_dir():
            for table in tables.LOAD_ORDER:
                named += [
                    (p / f"{table}{s}", table) for s in SUFFIXES if (p / f"{table}{s}").is_file()
                ]
            continue
        if p.stem in tables.SPECS:
            named.append((p, p.stem))
        else:
            other.append((p, None))
    named.sort(key=lambda pt: tables.LOAD_ORDER.index(pt[1]))
    return [*named, *other]


def load(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    *,
    now: datetime | None = None,
    on_error: str = "quarantine",
    username: str | None = None,
    lake: str | Path | None = None,
) -> LoadResult:
    """Load files into a Linli database, then run the after-load step once.

    Parameters
    ----------
    con
        A writable Linli database.
    paths
        Files and directories (see :func:`plan`).
    now
        Dates after this are rejected as future; default now.
    on_error
        ``quarantine`` (load the valid rows of a file) or ``abort`` (a file with a rejected
        row is not loaded at all).
    username
        Who loads, for the audit log; ``None`` for the system (a nightly job).
    lake
        A Parquet lake (``python -m engine.lake export``) that receives the loaded rows too:
        the day partitions the load touched are rewritten, so a re-run duplicates nothing.

    Returns
    -------
    LoadResult
        One report per file, and the files refused with the reason.
    """
    result = LoadResult()
    for d in (Path(p) for p in paths if Path(p).is_dir()):
        known = {f"{t}{s}" for t in tables.LOAD_ORDER for s in SUFFIXES}
        result.ignored += sorted(str(f) for f in d.iterdir() if f.is_file() and f.name not in known)
    for path, table in plan(paths):
        data = path.read_bytes()
        try:
            rep = files.import_file(con, data, table, name=path.name, now=now, on_error=on_error)
        except validation.ImportFileError as exc:
            if exc.code == "empty" and data.strip():
                result.empty.append(str(path))  # a header and no rows: an empty table
            else:
                result.refused.append((str(path), str(exc)))
            continue
        result.reports.append(rep)
    written = [r for r in result.reports if r.written]
    if written:
        afterload.run(
            con,
            load_id=written[-1].import_id if len(written) == 1 else uuid.uuid4().hex[:16],
            source=", ".join(r.source for r in written),
            loaded=result.rows_loaded,
            rejected=result.rows_rejected,
            username=username,
            days=sorted({d for r in written for d in r.days}),
            tables=sorted({t for r in written for t in r.tables_loaded}),
            lake=lake,
        )
    return result


def print_report(result: LoadResult, out: TextIO | None = None) -> None:
    """Print rows loaded, skipped as already loaded and quarantined per reason, per file."""
    out = out or sys.stdout
    for rep in result.reports:
        if rep.already_imported:
            print(f"{rep.source}: already loaded (same content), skipped", file=out)
            continue
        for t in rep.tables:
            print(
                f"{rep.source} -> {t.table}: {t.rows_in} rows, "
                f"{t.rows_valid if rep.written else 0} loaded, "
                f"{t.rows_skipped} skipped as already loaded, {t.rows_rejected} quarantined",
                file=out,
            )
            for reason, n in t.problems.items():
                if not reason.startswith(validation.SKIP_REASON):
                    print(f"    quarantined {n}: {reason}", file=out)
        if not rep.written and rep.rows_rejected:
            print(f"{rep.source}: NOT loaded (rejected rows and --abort)", file=out)
    for path in result.empty:
        print(f"{path}: header only, nothing to load", file=out)
    for path in result.ignored:
        print(f"{path}: ignored (not named <table>.csv|xlsx|parquet; load it by name)", file=out)
    for path, why in result.refused:
        print(f"{path}: REFUSED: {why}", file=out)
    print(
        f"total: {result.rows_loaded} rows loaded, {result.rows_rejected} quarantined, "
        f"{len(result.refused)} files refused",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m connectors.load", description=__doc__)
    ap.add_argument("--db", required=True, help="Linli database file")
    ap.add_argument("--export", metavar="DIR", help="write every input table as DIR/<table>.csv")
    ap.add_argument("--new", action="store_true", help="create an empty database (schema only)")
    ap.add_argument("--abort", action="store_true", help="a file with a bad row is not loaded")
    ap.add_argument("--user", help="who loads, for the audit log")
    ap.add_argument(
        "--lake",
        default=os.environ.get("LINLI_LAKE") or None,
        help="also append the loaded rows to this Parquet lake (default LINLI_LAKE)",
    )
    ap.add_argument("paths", nargs="*", help="files or directories to load")
    args = ap.parse_args(argv)
    db = Path(args.db)
    if args.export and (args.paths or args.new):
        ap.error("--export takes no files and no --new")
    if not args.export and not args.paths and not args.new:
        ap.error("give files or directories to load, or --export DIR")
    if args.new and db.exists():
        print(
            f"{db} exists; --new never overwrites a database. Pick another path.", file=sys.stderr
        )
        return 2
    if args.lake and not Path(args.lake).is_dir():
        print(
            f"the lake {args.lake} does not exist; write it first with "
            "`python -m engine.lake export --db DB --lake DIR`",
            file=sys.stderr,
        )
        return 2
    if not args.new and not db.exists():
        print(f"{db} does not exist; use --new to create it.", file=sys.stderr)
        return 2
    try:
        con = dbmod.connect(db, read_only=bool(args.export))
    except dbmod.DatabaseError as exc:  # in use, not a database, schema too new
        print(exc, file=sys.stderr)
        return 2
    try:
        if args.export:
            for table, n in export(con, args.export).items():
                print(f"{table}: {n} rows -> {Path(args.export) / (table + '.csv')}")
            return 0
        try:
            result = load(
                con,
                args.paths,
                on_error="abort" if args.abort else "quarantine",
                username=args.user,
                lake=args.lake,
            )
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 2
        print_report(result)
        return 1 if result.refused else 0
    finally:
        con.close()


if __name__ == "__main__":
    raise SystemExit(main())
