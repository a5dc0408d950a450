"""House rules (docs/architecture.md, layers), checked on the source tree with ast."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

from dashboard import i18n, nav

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("engine", "connectors", "dashboard", "pages", "data", "ops", "bench")
PAGE_LINES = 150
MODULE_LINES = 600
# connectors/ reaches engine/ only through the schema contract (STYLE.md, rule 1).
CONTRACT = {
    "engine",
    "engine.db",
    "engine.clock",
    "engine.afterload",
    "engine.cells",
    "engine.limits",
}
# SQL statement shapes, not single words: "Select a region" in a label is not SQL.
SQL = re.compile(
    r"\bSELECT\b[\s\S]+?\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bCREATE\s+(OR\s+REPLACE\s+)?(TEMP\w*\s+)?(TABLE|VIEW|INDEX|SEQUENCE|MACRO)\b"
    r"|\b(DROP|ALTER|TRUNCATE)\s+TABLE\b|\bMERGE\s+INTO\b|\bCOPY\s+\w+\s+(FROM|TO)\b",
    re.IGNORECASE,
)
EXECUTE = {"execute", "executemany", "sql", "query", "read_sql", "read_sql_query"}
# Pinned distributions that no module imports by name: pandas loads them as file engines.
INDIRECT = {
    "python-calamine": "pandas.read_excel(engine='calamine') in connectors/files.py",
    "openpyxl": "pandas' Excel reader/writer fallback, and the tests read exports with it",
    "xlsxwriter": "pandas.ExcelWriter(engine='xlsxwriter') in engine/routing/export.py",
    "py4j": "pyspark's bridge to the JVM (engine/spark.py), pinned with it",
}


def _files(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py"))


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Absolute names of every module imported anywhere in the file (lazy imports too)."""
    out = []
    pkg = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from engine import kpis` imports the module engine.kpis when it is one.
            out += [f"{base}.{a.name}" if _exists(f"{base}.{a.name}") else base for a in node.names]
    return out


def _exists(module: str) -> bool:
    p = ROOT.joinpath(*module.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _top(name: str) -> str:
    return name.split(".")[0]


def test_no_sql_in_dashboard_or_pages():
    """dashboard/ and pages/ hold no SQL text and call no .execute()/.sql() of a connection."""
    found = []
    for path in _files("dashboard", "pages"):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL.search(node.value):
                    found.append(f"{_rel(path)}:{node.lineno} SQL text {node.value[:40]!r}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in EXECUTE:
                    found.append(f"{_rel(path)}:{node.lineno} .{node.func.attr}(")
    assert not found, "\n".join(sorted(found))


def test_pages_are_short():
    """Every page file is at most 150 lines: read filters, call dashboard/, render."""
    long = {
        _rel(p): n for p in _files("pages") if (n := len(p.read_text().splitlines())) > PAGE_LINES
    }
    assert not long, long


def test_engine_and_connectors_modules_are_at_most_600_lines():
    """No engine/ or connectors/ module is over 600 lines (split it by concept)."""
    long = {
        _rel(p): n
        for p in _files("engine", "connectors")
        if (n := len(p.read_text().splitlines())) > MODULE_LINES
    }
    assert not long, long


def test_engine_imports_neither_streamlit_nor_connectors():
    """engine/ is pure: no UI and no outside world, so every layer can call it."""
    bad = [
        f"{_rel(p)} imports {name}"
        for p in _files("engine")
        for name in _imports(p)
        if _top(name) in ("streamlit", "connectors")
    ]
    assert not bad, "\n".join(bad)


def test_connectors_use_only_the_engine_contract():
    """connectors/ imports from engine/ only the contract: db, clock, afterload, cells, limits."""
    bad = [
        f"{_rel(p)} imports {name}"
        for p in _files("connectors")
        for name in _imports(p)
        if _top(name) == "engine" and name not in CONTRACT
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycle_among_first_party_modules():
    """The first-party import graph (lazy imports included) has no cycle."""
    graph: dict[str, set[str]] = {}
    for p in _files(*FIRST_PARTY):
        graph[_module(p)] = {m for m in _imports(p) if _top(m) in FIRST_PARTY and _exists(m)}
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif state.get(nxt) == 0:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node, [])
    assert not cycles, "\n".join(cycles)


def test_every_page_is_documented():
    """Each page in dashboard/nav.py is named (Chinese title or file) in README.md or docs/."""
    text = "\n".join(
        p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    )
    labels = i18n.table()
    missing = [
        p.path for p in nav.PAGES if labels[p.title_key]["zh"] not in text and p.path not in text
    ]
    assert not missing, missing


def _pins() -> set[str]:
    pins = set()
    for req in ROOT.glob("requirements*.txt"):
        for line in req.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                pins.add(_norm(re.split(r"[\[=<>~!; ]", line, maxsplit=1)[0]))
    return pins


def _norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _third_party_imports() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for p in _files(*FIRST_PARTY):
        for name in _imports(p):
            top = _top(name)
            if top and top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                used.setdefault(top, set()).add(_rel(p))
    return used


def test_every_imported_package_is_pinned():
    """Each third-party package the code imports maps to a pin in requirements*.txt."""
    dists = importlib.metadata.packages_distributions()
    pins = _pins()
    unpinned = {
        top: sorted(files)[0]
        for top, files in _third_party_imports().items()
        if not any(_norm(d) in pins for d in dists.get(top, [top]))
    }
    assert not unpinned, unpinned


def test_every_runtime_pin_is_used():
    """Each pin in requirements.txt is imported, or listed in INDIRECT with the reason."""
    dists = importlib.metadata.packages_distributions()
    imported = {_norm(d) for top in _third_party_imports() for d in dists.get(top, [top])}
    runtime = {
        _norm(re.split(r"[\[=<>~!; ]", line.strip(), maxsplit=1)[0])
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    assert runtime - imported - set(INDIRECT) == set()
