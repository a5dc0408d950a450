"""Wrappers for the plan-vs-actual view with exposure and conversion (engine.outcomes)."""

from __future__ import annotations

import pandas as pd

from dashboard import auth, db
from dashboard.i18n import t
from engine import outcomes, reference


def scored(history: pd.DataFrame) -> list[str]:
    """Plan ids of the history whose sale day has data (they carry a realised score)."""
    if history.empty or "realised_success" not in history:
        return []
    return list(history.loc[history["realised_success"].notna(), "plan_id"])


def outcome(plan_id: str) -> tuple[pd.DataFrame, bool]:
    """Per-community plan vs actual with views and conversion, and whether browsing is loaded."""
    cur = db.cursor()
    out = outcomes.score(cur, plan_id, auth.scope())
    names = reference.communities(cur, auth.scope()).set_index("community_id")["name"]
    rows = out.communities
    label = rows["community_id"].map(lambda c: t("oc_total") if pd.isna(c) else names.get(c, c))
    return rows.assign(community=label), out.funnel_loaded
