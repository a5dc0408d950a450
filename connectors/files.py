"""Importing orders, order items, users, SKUs, communities and inventory from files.

CSV (any common encoding and delimiter), Excel workbooks (.xlsx, one table per sheet) and
Parquet are read into Arrow tables of text (Parquet keeps its types), the headers are mapped
to schema columns (:mod:`connectors.mapping`, overridable), and the rows go through
:mod:`connectors.validation`: checked as a whole, then loaded in one transaction.

Typical use::

    from connectors import files
    content = files.read("订单.csv")                       # decode, parse, guess tables
    report = files.import_content(con, content, dry_run=True)  # validation report only
    report = files.import_content(con, content)            # load valid rows, quarantine others
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import charset_normalizer
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from connectors import mapping as mapping_
from connectors import tables, validation
from connectors.validation import ImportFileError, ImportReport

# A longer line is not a data row (a pasted blob, a wrong delimiter, a hostile file).
MAX_LINE_BYTES = 1_000_000
KINDS = ("csv", "excel", "parquet")
_SUFFIX = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class Sheet:
    """One table-shaped part of a file: a CSV, a Parquet file or one Excel sheet.

    Attributes
    ----------
    name
        Sheet name, or the file stem.
    data
        The rows, headers as in the file (text columns for CSV and Excel).
    table
        Guessed target table, ``None`` when the headers do not tell.
    mapping
        Guessed ``{header: column}`` for that table.
    """

    name: str
    data: pa.Table
    table: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    rows: pa.Array | None = None  # spreadsheet row numbers; default 2, 3, ... (header row 1)

    @property
    def headers(self) -> list[str]:
        """Column headers as in the file."""
        return list(self.data.column_names)


@dataclass(frozen=True)
class FileContent:
    """A parsed file: its sheets, encoding and content hash."""

    name: str
    kind: str
    content_hash: str
    sheets: tuple[Sheet, ...]
    encoding: str | None = None


def detect_encoding(data: bytes) -> str:
    """Return the text encoding of CSV bytes.

    Parameters
    ----------
    data
        File content.

    Returns
    -------
    str
        ``utf-8-sig`` (BOM), ``utf-16``, ``utf-8``, ``gb18030`` (for GBK/GB2312 too, of which
        it is a superset; tried before any guess) or what charset-normalizer finds.

    Raises
    ------
    ImportFileError
        ``encoding`` for binary content or text in no recognisable encoding.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:65536]:
        raise ImportFileError("encoding", "This is not a text file (it contains NUL bytes).")
    # Mainland files that are not UTF-8 are almost always GBK; GB18030 (its superset) rejects
    # most other encodings' byte patterns, so a clean decode is a reliable answer, where a
    # statistical guess on a few Chinese headers may say Korean.
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        pass
    sample = data[:262144]
    cut = sample.rfind(b"\n")
    best = charset_normalizer.from_bytes(sample[: cut if cut > 0 else None]).best()
    if best is None:
        raise ImportFileError(
            "encoding", "Cannot tell the file's text encoding; save it as UTF-8 (or GBK) and retry."
        )
    enc = best.encoding.lower().replace("_", "")
    if enc in ("gbk", "gb2312", "gb18030", "cp936", "hz"):
        enc = "gb18030"
    return enc


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportFileError(
            "encoding",
            f"The file is not valid {encoding} text ({exc}); save it as UTF-8 or GBK, or pick "
            "the right encoding.",
        ) from None


def _check_lines(data: bytes) -> None:
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    bounds = np.concatenate(([-1], ends, [len(arr)]))
    lengths = np.diff(bounds) - 1
    worst = int(np.argmax(lengths))
    if lengths[worst] > MAX_LINE_BYTES:
        raise ImportFileError(
            "line_too_long",
            f"Line {worst + 1} is {lengths[worst] / 1e6:.1f} MB long (limit "
            f"{MAX_LINE_BYTES / 1e6:.0f} MB): this is not a table of rows. Check the delimiter "
            "and line endings.",
        )


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        h = h.strip() or f"column_{i + 1}"
        if h in seen:
            seen[h] += 1
            h = f"{h}.{seen[h]}"
        else:
            seen[h] = 0
        out.append(h)
    return out


def _utf8_head(data: bytes) -> bool:
    """Whether the first MB is UTF-8 (a character cut at the end of the sample is fine)."""
    head = data[: 1 << 20]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return len(data) > len(head) and exc.start >= len(head) - 3
    return True


def _to_utf8(data: bytes, encoding: str | None) -> tuple[bytes, str]:
    """The content as UTF-8 bytes without BOM, and the encoding it was in."""
    if data.startswith(codecs.BOM_UTF8) and encoding in (None, "utf-8", "utf-8-sig"):
        data, encoding, bom = data[len(codecs.BOM_UTF8) :], None, True
    else:
        bom = False
    if encoding is None and _utf8_head(data):
        # The rest is checked by the CSV parser, which rejects invalid UTF-8; decoding a large
        # file here as well would double the read time.
        return data, "utf-8-sig" if bom else "utf-8"
    enc = encoding or detect_encoding(data)
    if enc == "utf-8":
        _decode(data, enc)
        return data, enc
    return _decode(data, enc).encode("utf-8"), enc


def _parse_csv(data: bytes) -> pa.Table:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8", errors="replace").rstrip("\r")
    delim = max(",\t;|", key=first.count)
    headers = _unique(next(csv.reader([first], delimiter=delim)))
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(
            column_names=headers, skip_rows=1, block_size=4 * MAX_LINE_BYTES
        ),
        # Quoted line breaks need the slower parser; without quotes there can be none.
        parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=b'"' in data),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(headers, pa.string()), strings_can_be_null=True
        ),
    )


def _read_csv(data: bytes, encoding: str | None) -> tuple[pa.Table, str]:
    utf8, enc = _to_utf8(data, encoding)
    _check_lines(utf8)
    try:
        return _parse_csv(utf8), enc
    except (pa.ArrowInvalid, ValueError) as exc:
        if enc.startswith("utf-8") and encoding is None and "utf8" in str(exc).lower():
            # Invalid UTF-8 past the sampled head: detect on the whole file after all.
            utf8, enc = _to_utf8(data, detect_encoding(data))
            try:
                return _parse_csv(utf8), enc
            except (pa.ArrowInvalid, ValueError) as exc2:
                exc = exc2
        raise ImportFileError("format", f"Cannot parse the CSV: {exc}") from None


def _header_row(frame: pd.DataFrame, name: str) -> int:
    """The header row: the first of the first ten rows whose cells name a table's columns.

    Exported reports often start with a title row (订单导出 2025年3月) above the headers.
    """
    first = None
    for i in range(min(10, len(frame))):
        cells = [str(v) for v in frame.iloc[i] if isinstance(v, str) and v.strip()]
        if cells and first is None:
            first = i
        if len(cells) >= 2:
            try:
                mapping_.guess_table(cells, name)
                return i
            except ValueError:
                continue
    return first or 0


def _read_excel(data: bytes) -> list[tuple[str, pa.Table, pa.Array]]:
    try:
        book = pd.read_excel(
            io.BytesIO(data), sheet_name=None, engine="calamine", dtype=str, header=None
        )
    except Exception as exc:  # calamine raises its own error types
        raise ImportFileError("format", f"Cannot read the Excel workbook: {exc}") from None
    out = []
    for name, frame in book.items():
        if frame.empty:
            continue
        h = _header_row(frame, str(name))
        heads = frame.iloc[h]
        body = frame.iloc[h + 1 :]
        keep = [c for c in frame.columns if pd.notna(heads[c]) or body[c].notna().any()]
        body = body[keep].dropna(how="all")
        if body.empty:
            continue
        body.columns = _unique([str(heads[c]) if pd.notna(heads[c]) else "" for c in keep])
        # Spreadsheet row numbers (1-based), kept for the report across skipped blank rows.
        rows = pa.array(body.index.to_numpy() + 1, pa.int64())
        out.append((str(name), pa.Table.from_pandas(body, preserve_index=False), rows))
    return out


def _bytes(source: str | Path | bytes | BinaryIO, name: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, (str, Path)):
        return Path(source).read_bytes(), name or Path(source).name
    if isinstance(source, bytes):
        return source, name
    return source.read(), name or getattr(source, "name", None)


def read(
    source: str | Path | bytes | BinaryIO, name: str | None = None, encoding: str | None = None
) -> FileContent:
    """Read a CSV, Excel or Parquet file and guess each sheet's table and column mapping.

    Parameters
    ----------
    source
        A path, the file's bytes, or a binary file object (e.g. a Streamlit upload).
    name
        File name, needed to tell the format when ``source`` is not a path.
    encoding
        Force a CSV text encoding instead of detecting it.

    Returns
    -------
    FileContent
        Sheets with guessed tables and mappings, the encoding and the content hash.

    Raises
    ------
    ImportFileError
        ``empty``, ``encoding``, ``line_too_long`` or ``format`` (unknown suffix, unparsable).
    """
    data, name = _bytes(source, name)
    if not name:
        raise ImportFileError(
            "format", "A file name (with its suffix) is needed to tell the format."
        )
    kind = _SUFFIX.get(Path(name).suffix.lower())
    if kind is None:
        raise ImportFileError(
            "format", f"{name}: unsupported file type; use .csv, .xlsx or .parquet."
        )
    if not data or data.isspace():
        raise ImportFileError("empty", f"{name} is empty.")
    digest = hashlib.sha256(data).hexdigest()
    stem = Path(name).stem
    enc = None
    if kind == "csv":
        tbl, enc = _read_csv(data, encoding)
        parts = [(stem, tbl, None)]
    elif kind == "parquet":
        try:
            tbl = pq.read_table(io.BytesIO(data))
        except Exception as exc:
            raise ImportFileError("format", f"Cannot read the Parquet file: {exc}") from None
        parts = [(stem, tbl.rename_columns(_unique([str(c) for c in tbl.column_names])), None)]
    else:
        parts = _read_excel(data)
    parts = [(n, t, r) for n, t, r in parts if t.num_rows > 0]
    if not parts:
        raise ImportFileError("empty", f"{name} has a header but no data rows.")
    sheets = []
    for sheet_name, tbl, rows in parts:
        try:
            table = mapping_.guess_table(tbl.column_names, sheet_name)
            guess = mapping_.guess_mapping(tbl.column_names, table)
        except ValueError:
            table, guess = None, {}
        sheets.append(Sheet(sheet_name, tbl, table, guess, rows))
    return FileContent(name, kind, digest, tuple(sheets), enc)


def stage(
    content: FileContent,
    targets: Mapping[str, str] | None = None,
    mappings: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, validation.Staged]:
    """Rename each sheet's columns to its table's, ready for validation.

    Parameters
    ----------
    content
        What :func:`read` returned.
    targets
        ``{sheet name: table}`` overriding the guesses; a table of ``""`` skips the sheet.
    mappings
        ``{sheet name: {header: column}}`` overriding the guessed mappings.

    Returns
    -------
    dict
        ``{table: Staged}``.

    Raises
    ------
    ImportFileError
        ``table`` when a sheet's table is unknown or two sheets target one table.
    """
    targets = targets or {}
    mappings = mappings or {}
    out: dict[str, validation.Staged] = {}
    for sheet in content.sheets:
        table = targets.get(sheet.name, sheet.table)
        if table == "":
            continue
        if table is None:
            raise ImportFileError(
                "table",
                f"Cannot tell which table {sheet.name!r} holds (columns: "
                f"{', '.join(sheet.headers[:12])}); choose it.",
            )
        try:
            final = mapping_.apply_mapping(sheet.headers, table, mappings.get(sheet.name))
        except ValueError as exc:
            raise ImportFileError("table", str(exc)) from None
        if table in out:
            raise ImportFileError("table", f"Two sheets hold {table}; import them separately.")
        data = sheet.data.select(list(final)).rename_columns(list(final.values()))
        ignored = tuple(h for h in sheet.headers if h not in final)
        out[table] = validation.Staged(table, data, final, ignored, row_numbers=sheet.rows)
    if not out:
        raise ImportFileError("table", "No sheet was chosen for import.")
    return out


def import_content(
    con,
    content: FileContent,
    targets: Mapping[str, str] | None = None,
    mappings: Mapping[str, Mapping[str, str]] | None = None,
    *,
    now: datetime | None = None,
    on_error: str = "quarantine",
    dry_run: bool = False,
    force: bool = False,
) -> ImportReport:
    """Validate a read file and load its valid rows in one transaction.

    Parameters
    ----------
    con
        Connection to a Linli database.
    content
        What :func:`read` returned.
    targets, mappings
        Overrides, see :func:`stage`.
    now
        Later dates are rejected as future; default now.
    on_error
        ``"quarantine"`` (load valid rows, keep rejected ones in ``import_quarantine``) or
        ``"abort"`` (write nothing when any row is rejected).
    dry_run
        Only validate.
    force
        Import even when this content was imported before (keys already present are still
        skipped).

    Returns
    -------
    ImportReport
        The validation report and whether rows were written.

    Raises
    ------
    ImportFileError
        For missing required columns, unknown tables, or a refused load (nothing written).
    """
    return validation.run(
        con,
        stage(content, targets, mappings),
        source=content.name,
        content_hash=content.content_hash,
        now=now,
        on_error=on_error,
        dry_run=dry_run,
        encoding=content.encoding,
        force=force,
    )


def import_file(
    con,
    source: str | Path | bytes | BinaryIO,
    table: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    encoding: str | None = None,
    now: datetime | None = None,
    on_error: str = "quarantine",
    dry_run: bool = False,
    force: bool = False,
) -> ImportReport:
    """Read one file and import it (see :func:`read` and :func:`import_content`).

    Parameters
    ----------
    con
        Connection to a Linli database.
    source
        Path, bytes or binary file object.
    table
        Target table for every sheet; default guessed per sheet.
    mapping
        ``{header: column}`` overrides, applied to every sheet.
    name, encoding
        See :func:`read`.
    now, on_error, dry_run, force
        See :func:`import_content`.

    Returns
    -------
    ImportReport
        The validation report and whether rows were written.

    Raises
    ------
    ImportFileError
        When the file cannot be read or imported at all; nothing is written then.
    """
    if table is not None:
        tables.spec(table)
    data, name = _bytes(source, name)
    digest = hashlib.sha256(data).hexdigest()
    if not force and not dry_run and validation.already_imported(con, digest):
        # Known content: no need to parse it.
        return ImportReport("", name or "", digest, already_imported=True)
    content = read(data, name=name, encoding=encoding)
    targets = {s.name: table for s in content.sheets} if table else None
    mappings = {s.name: mapping for s in content.sheets} if mapping else None
    return import_content(
        con, content, targets, mappings, now=now, on_error=on_error, dry_run=dry_run, force=force
    )
