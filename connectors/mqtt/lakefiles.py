"""Telemetry micro-batches as Parquet files in the lake, exactly once per key, and their reader.

Layout (shared with the lake export): ``<lake>/telemetry/day=YYYY-MM-DD/warehouse_id=N/
<ingester>-<seq>.parquet`` with the columns of the DuckDB ``telemetry`` table
(:data:`connectors.mqtt.payload.TELEMETRY_COLUMNS`); ``day`` is the reading's own date (event
time) and ``warehouse_id`` the topic's warehouse segment. Rejected messages go to
``<lake>/telemetry_quarantine/day=YYYY-MM-DD/<ingester>-<seq>.parquet`` with the columns of
``telemetry_quarantine``. ``seq`` is a strictly increasing microsecond stamp per ingester, so
file names never collide, even across restarts, without listing the lake.

Exactly once, in two layers. (1) :class:`LakeWriter` drops a message whose key
``(device_id, msg_id)`` (or the timestamp without a msg_id, as in the DuckDB ingester) it
wrote or loaded from the lake's recent files; an ingester that takes over a dead member's
session reloads the keys of every file written since it started (:meth:`LakeWriter.load_keys`),
so what the dead member renamed but never acknowledged is recognised when the broker
redelivers it. (2) The product's reader (:func:`telemetry_sql`, :func:`read_telemetry`) keeps
one row per key, the first written: the one window the writers cannot close (a member whose
session is taken over while it holds unacknowledged messages another member then writes)
costs a duplicate file row, never a duplicate reading.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.mqtt import payload
from connectors.mqtt.client import Message
from connectors.mqtt.ingester import dedup_key, quarantine_row
from engine import clock

QUARANTINE_COLUMNS = ["received_at", "topic", "payload", "reason"]
_SCHEMA = pa.schema(
    [
        ("device_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("temp_c", pa.float64()),
        ("humidity", pa.float64()),
        ("door_open", pa.bool_()),
        ("battery", pa.float64()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("msg_id", pa.string()),
        ("received_at", pa.timestamp("us")),
    ]
)
_QSCHEMA = pa.schema(
    [
        ("received_at", pa.timestamp("us")),
        ("topic", pa.string()),
        ("payload", pa.string()),
        ("reason", pa.string()),
    ]
)
# The key of a row in SQL, as connectors.mqtt.ingester.dedup_key builds it in Python.
KEY_SQL = (
    "CASE WHEN msg_id IS NULL THEN device_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') "
    "ELSE device_id || '#' || msg_id END"
)


def check_lake(lake: str | os.PathLike[str]) -> Path:
    """Return the lake directory, created if missing, after checking it can be written.

    Parameters
    ----------
    lake
        The lake's root directory.

    Returns
    -------
    pathlib.Path
        The resolved directory.

    Raises
    ------
    ValueError
        When the path is a file, cannot be created or is not writable.
    """
    path = Path(lake).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"The lake path {str(path)!r} is a file, not a directory.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"The lake path {str(path)!r} is not writable: {exc.strerror}") from None
    return path.resolve()


@dataclass(frozen=True)
class BatchResult:
    """What one micro-batch did: rows written, redeliveries dropped, messages quarantined."""

    written: int
    duplicates: int
    quarantined: int
    files: tuple[Path, ...]


class LakeWriter:
    """Parse, deduplicate and write telemetry micro-batches into the lake atomically.

    Parameters
    ----------
    lake
        The lake's root (checked with :func:`check_lake`).
    ingester_id
        This writer's name in file names (letters, digits, ``_`` and ``-``).
    known_devices
        As for :func:`connectors.mqtt.payload.parse_message`: ``None`` accepts any device.
    dedup_size
        How many recent keys are remembered.
    """

    def __init__(
        self,
        lake: str | os.PathLike[str],
        ingester_id: str,
        known_devices: Mapping[str, object] | Collection[str] | None = None,
        dedup_size: int = 1_000_000,
    ) -> None:
        if not ingester_id or not all(c.isalnum() or c in "_-" for c in ingester_id):
            raise ValueError(f"ingester id {ingester_id!r}: use letters, digits, '_' and '-'.")
        self.lake = check_lake(lake)
        self.ingester_id = ingester_id
        self.known = known_devices
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._dedup_size = dedup_size
        self._last_seq = 0
        self._last_received = datetime.min

    # ------------------------------------------------------------------ keys
    def _remember(self, keys: Iterable[str]) -> None:
        for k in keys:
            if k not in self._seen:
                self._seen.add(k)
                self._order.append(k)
        while len(self._order) > self._dedup_size:
            self._seen.discard(self._order.popleft())

    def load_keys(self, since_s: float) -> int:
        """Remember the keys of every telemetry file modified in the last ``since_s`` seconds.

        Parameters
        ----------
        since_s
            How far back (file modification time) to look.

        Returns
        -------
        int
            Keys loaded.
        """
        cutoff = time.time() - since_s
        files = [
            str(f)
            for f in (self.lake / "telemetry").glob("day=*/warehouse_id=*/*.parquet")
            if f.stat().st_mtime >= cutoff
        ]
        if not files:
            return 0
        con = duckdb.connect()
        try:
            keys = con.execute(
                f"SELECT {KEY_SQL} FROM read_parquet(?, hive_partitioning = false)", [files]
            ).fetchall()
        finally:
            con.close()
        self._remember(k[0] for k in keys)
        return len(keys)

    # ------------------------------------------------------------------ writing
    def _seq(self) -> int:
        self._last_seq = max(time.time_ns() // 1000, self._last_seq + 1)
        return self._last_seq

    def _put(self, table: pa.Table, folder: Path) -> Path:
        """Write ``table`` to a temporary file, fsync it, rename it into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{self.ingester_id}-{self._seq()}.parquet"
        tmp = folder / f".{final.name}.tmp"
        try:
            pq.write_table(table, tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)  # on disk before the rename, so before the acknowledgement
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    def write(self, batch: list[Message], now: datetime | None = None) -> BatchResult:
        """Write one micro-batch; acknowledge its messages only after this returns.

        Each message is parsed on its own (a bad one is quarantined, the rest stored); a key
        already written is dropped. Rows are grouped per (day, warehouse) partition, one file
        each, every file renamed into place complete.

        Parameters
        ----------
        batch
            ``(topic, payload, packet id)`` messages.
        now
            Naive local time for the timestamp checks; the wall clock by default.

        Returns
        -------
        BatchResult
            Counts and the files written.

        Raises
        ------
        OSError
            When a file cannot be written (nothing of the batch may be acknowledged then).
        """
        now = now or clock.local_now()
        received_at = max(now, self._last_received)
        self._last_received = received_at
        parts: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        bad: list[tuple[Any, ...]] = []
        keys: list[str] = []
        fresh: set[str] = set()
        dups = 0
        for topic, body, _mid in batch:
            try:
                row = payload.parse_message(topic, body, self.known, now)
            except payload.RejectedError as exc:
                bad.append(quarantine_row(received_at, topic, body, str(exc)))
                continue
            key = dedup_key(row)
            if key in self._seen or key in fresh:
                dups += 1
                continue
            fresh.add(key)
            keys.append(key)
            part = (row[1].date().isoformat(), topic.split("/")[-3])
            parts.setdefault(part, []).append((*row, received_at))
        files: list[Path] = []
        for (day, wh), rows in sorted(parts.items()):
            # Column by column with pyarrow: a pandas frame per partition cost more than the
            # parsing.
            table = pa.Table.from_arrays(
                [
                    pa.array(col, type=f.type)
                    for col, f in zip(zip(*rows, strict=True), _SCHEMA, strict=True)
                ],
                schema=_SCHEMA,
            )
            folder = self.lake / "telemetry" / f"day={day}" / f"warehouse_id={wh}"
            files.append(self._put(table, folder))
            # Remembered as soon as they are in place: a retry of the batch skips them.
            self._remember(dedup_key(r) for r in rows)
        if bad:
            q = pd.DataFrame(bad, columns=QUARANTINE_COLUMNS)
            table = pa.Table.from_pandas(q, schema=_QSCHEMA, preserve_index=False)
            folder = self.lake / "telemetry_quarantine" / f"day={received_at.date().isoformat()}"
            files.append(self._put(table, folder))
        return BatchResult(len(keys), dups, len(bad), tuple(files))


# ---------------------------------------------------------------------- reading
def telemetry_sql(lake: str | os.PathLike[str]) -> tuple[str, list[Any]]:
    """The product's reader of lake telemetry as SQL: one row per key, the first written.

    Parameters
    ----------
    lake
        The lake's root.

    Returns
    -------
    tuple
        ``(sql, parameters)`` selecting the telemetry columns plus ``day`` and
        ``warehouse_id`` (Hive partitions) for ``con.execute(sql, parameters)``.
    """
    pattern = str(Path(lake) / "telemetry" / "day=*" / "warehouse_id=*" / "*.parquet")
    cols = ", ".join(payload.TELEMETRY_COLUMNS)
    sql = (
        f"SELECT {cols}, day, warehouse_id FROM read_parquet(?, hive_partitioning = true, "
        "filename = true, union_by_name = true) "
        f"QUALIFY row_number() OVER (PARTITION BY {KEY_SQL} ORDER BY received_at, filename) = 1"
    )
    return sql, [pattern]


def read_telemetry(
    lake: str | os.PathLike[str], con: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Read the lake's telemetry, one row per reading (see :func:`telemetry_sql`).

    Parameters
    ----------
    lake
        The lake's root.
    con
        A DuckDB connection; a fresh in-memory one when ``None``.

    Returns
    -------
    pandas.DataFrame
        The telemetry columns plus ``day`` and ``warehouse_id``; empty when the lake holds no
        telemetry yet.
    """
    if not any((Path(lake) / "telemetry").glob("day=*/warehouse_id=*/*.parquet")):
        return pd.DataFrame({c: [] for c in [*payload.TELEMETRY_COLUMNS, "day", "warehouse_id"]})
    own = con is None
    con = con or duckdb.connect()
    try:
        sql, params = telemetry_sql(lake)
        return con.execute(sql, params).df()
    finally:
        if own:
            con.close()


def file_rows(lake: str | os.PathLike[str]) -> tuple[int, int]:
    """Physical rows and distinct keys in the lake's telemetry files (tests and benchmarks).

    Parameters
    ----------
    lake
        The lake's root.

    Returns
    -------
    tuple of int
        ``(rows, distinct keys)``: their difference is what the reader's deduplication hides.
    """
    files = list((Path(lake) / "telemetry").glob("day=*/warehouse_id=*/*.parquet"))
    if not files:
        return 0, 0
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT count(*), count(DISTINCT {KEY_SQL}) FROM read_parquet(?)",
            [[str(f) for f in files]],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1])
