"""One Apache Spark session for the batch layer (docs/scale.md).

``LINLI_SPARK_MASTER`` names the cluster (``spark://host:7077``, ``yarn``, ``k8s://…``);
without it Spark runs in this process as ``local[N]``, N = ``LINLI_SPARK_CORES`` or 2.
The session is created once and shared: its start-up costs about ten seconds.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

_LOCK = threading.Lock()
_SESSION: SparkSession | None = None


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here (no Java runtime, or pyspark missing); the message says why."""


def java_missing() -> str | None:
    """Why a local Spark cannot start, or None when a Java runtime is found."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return None
    if shutil.which("java"):
        return None
    return "no Java runtime (install Debian's default-jre-headless, or set JAVA_HOME)"


def master() -> str:
    """The Spark master URL: LINLI_SPARK_MASTER, or local[LINLI_SPARK_CORES or 2]."""
    url = os.environ.get("LINLI_SPARK_MASTER", "").strip()
    if url:
        return url
    cores = os.environ.get("LINLI_SPARK_CORES", "2").strip() or "2"
    if not cores.isdigit() or int(cores) < 1:
        raise SparkUnavailableError(f"LINLI_SPARK_CORES must be a positive integer, not {cores!r}")
    return f"local[{int(cores)}]"


def _local_workers() -> None:
    """Let local Python workers run this interpreter and import Linli's packages.

    Spark starts its Python workers (``applyInPandas``, UDFs) with ``python3`` from PATH
    unless told otherwise, which lacks this virtualenv's packages, and with a PYTHONPATH
    that need not hold the repository. Both are read when the JVM starts.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


def session(app: str = "linli") -> SparkSession:
    """The shared SparkSession (created on first use), in UTC with Arrow transfers on."""
    global _SESSION
    with _LOCK:
        if _SESSION is not None and _SESSION.sparkContext._jsc is not None:
            return _SESSION
        url = master()
        if url.startswith("local"):
            why = java_missing()
            if why:
                raise SparkUnavailableError(why)
            _local_workers()
        # pyspark 4.3 warns on pandas 3; the conversions Linli uses are checked by tests.
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
            raise SparkUnavailableError(f"pyspark is not installed: {exc}") from exc
        builder = (
            SparkSession.builder.appName(app)
            .master(url)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", os.environ.get("LINLI_SPARK_PARTITIONS", "8"))
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", os.environ.get("LINLI_SPARK_DRIVER_MEMORY", "2g"))
        )
        _SESSION = builder.getOrCreate()
        _SESSION.sparkContext.setLogLevel("ERROR")
        return _SESSION


def stop() -> None:
    """Stop the shared session (tests and CLIs call it at exit)."""
    global _SESSION
    with _LOCK:
        if _SESSION is not None:
            _SESSION.stop()
            _SESSION = None
