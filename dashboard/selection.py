"""Cached wrappers around the selection-rule engine for the 智能选品 page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from dashboard import auth, db
from engine import clock, reference, rules
from engine.auth import Scope
from engine.rules import backtest as rule_backtest
from engine.rules import library


@dataclass(frozen=True)
class Check:
    """Result of validating rule text: ok, or the error message, position and caret line."""

    ok: bool
    message: str = ""
    position: int = -1
    pointer: str = ""
    canonical: str = ""


def check(text: str, lang: str) -> Check:
    """Parse rule text; return the canonical form or the error with its position."""
    try:
        rule = rules.parse(text)
    except rules.RuleError as exc:
        return Check(False, exc.message, exc.position, exc.pointer(text))
    return Check(True, canonical=rules.to_text(rule, lang))


@auth.cache_scoped(show_spinner=False, max_entries=64)
def evaluate(
    version: str, text: str, as_of: date, regions: tuple[int, ...], *, scope: Scope
) -> pd.DataFrame:
    """Picks per community for a (valid) rule text, limited to the selected regions."""
    out = rules.evaluate(db.cursor(), text, as_of=as_of, scope=scope)
    return _in_regions(out, regions)


@auth.cache_scoped(show_spinner=False, max_entries=16)
def backtest(
    version: str,
    named: tuple[tuple[str, str], ...],
    start: date,
    weeks: int,
    top_n: int,
    regions: tuple[int, ...],
    *,
    scope: Scope,
) -> dict[str, pd.DataFrame]:
    """Weekly and overall backtest scores of up to 4 named rule texts plus the baseline."""
    communities = None
    if regions:
        comm = reference.communities(db.cursor())
        communities = comm.loc[comm["region_id"].isin(regions), "community_id"].tolist()
    result = rule_backtest.backtest(
        db.cursor(), dict(named), start, weeks, top_n=top_n, communities=communities, scope=scope
    )
    return {"weekly": result.weekly, "summary": result.summary}


def _in_regions(frame: pd.DataFrame, regions: tuple[int, ...]) -> pd.DataFrame:
    if not regions or frame.empty:
        return frame
    comm = reference.communities(db.cursor())
    keep = set(comm.loc[comm["region_id"].isin(regions), "community_id"])
    return frame[frame["community_id"].isin(keep)].reset_index(drop=True)


def saved_rules() -> pd.DataFrame:
    """The saved-rule library, seeded with the examples the first time it is empty."""
    cur = db.cursor()
    if library.list_rules(cur).empty:
        library.seed_library(cur)
    return library.list_rules(cur)


def save_rule(name: str, text: str, author: str) -> int:
    """Save (or update) a rule by name."""
    return library.save(db.cursor(), name, text, author)


def default_as_of() -> date:
    """The data set's today."""
    return clock.as_of(db.cursor())


BASELINE = rule_backtest.BASELINE
MAX_RULES = rule_backtest.MAX_RULES
