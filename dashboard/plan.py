"""Wrappers for the 明日计划 page around engine.planning (plans are kept per session)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import auth, db
from engine import clock, planning, reference
from engine.auth import Scope
from engine.rules import library


def default_date(version: str) -> date:
    """Tomorrow in the world: the day after the data set's as-of date."""
    return clock.world_today(db.cursor()) + timedelta(days=1)


@st.cache_data(show_spinner=False)
def saved_rules(version: str) -> pd.DataFrame:
    """Saved selection rules (name, text), the seeds' library first."""
    cur = db.cursor()
    rules = library.list_rules(cur)
    return rules[["name", "text"]] if not rules.empty else pd.DataFrame(columns=["name", "text"])


@auth.cache_scoped(show_spinner=False)
def communities(version: str, *, scope: Scope) -> pd.DataFrame:
    """Ids, names and types of the communities in the row scope, for labelling the lists."""
    table = reference.communities(db.cursor(), scope)[["community_id", "name", "type"]]
    return table.rename(columns={"name": "community"})


def build(
    sale_date: date, settings: planning.PlanSettings, scope: Scope, progress
) -> planning.Plan:
    """Compute a plan (not cached: it is an explicit action)."""
    return planning.build(db.cursor(), sale_date, settings, scope=scope, progress=progress)


def save(plan: planning.Plan) -> str:
    """Store a plan."""
    return planning.save(db.cursor(), plan)


def approve(plan_id: str, username: str) -> None:
    """Approve a stored plan (audited)."""
    planning.approve(db.cursor(), plan_id, username)


def history() -> pd.DataFrame:
    """Stored plans with their scores against what happened."""
    return planning.history(db.cursor(), scope=auth.scope())


def score(plan_id: str) -> pd.DataFrame:
    """Per-community plan-vs-actual of one stored plan."""
    return planning.score(db.cursor(), plan_id, auth.scope())
