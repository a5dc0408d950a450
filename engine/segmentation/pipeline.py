"""One call that segments a population: features, personas, churn scores and tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope
from engine.segmentation import _inputs, churn, features, personas, tags


@dataclass(frozen=True)
class Segmentation:
    """Every user's features, persona (with reason), churn risk (with drivers) and tags."""

    as_of: date
    window_start: date
    users: pd.DataFrame
    tags: pd.DataFrame
    personas: personas.PersonaModel
    churn: churn.ChurnModel | None


def run(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    lookback_days: int = 180,
    regions: Sequence[int] = (),
    communities: Sequence[int] = (),
    seed: int = 0,
    with_churn: bool = True,
    scope: Scope = ALL,
) -> Segmentation:
    """Segment every user in scope as of a day.

    Parameters
    ----------
    con
        Connection to a Linli database.
    as_of
        Day of the snapshot; default the world's ``as_of``.
    lookback_days
        Behaviour window of the features.
    regions, communities
        Restrict to these ids (empty = all).
    seed
        Seed of the value clustering.
    with_churn
        Also train and apply the churn model (needs two horizons of history).
    scope
        The caller's row scope; rows outside it are never returned.

    Returns
    -------
    Segmentation
        ``users`` joins features, persona, ``reason_key``, ``churn_prob`` and drivers.

    Raises
    ------
    ValueError
        For unknown ids, no users in scope, or too short a history for churn.
    """
    end = clock.as_of(con, as_of)
    f = features.user_features(con, end, lookback_days, regions, communities, scope=scope)
    if f.empty:
        raise ValueError("no users in the selected scope")
    pm = personas.assign(f, personas.PersonaSettings(seed=seed))
    users = f.merge(pm.labels[["user_id", "persona", "reason_key"]], on="user_id")
    users["window_days"] = (pd.Timestamp(end) - pd.Timestamp(f.attrs["window_start"])).days + 1
    model = None
    if with_churn:
        model = churn.fit_score(
            con,
            end,
            churn.ChurnSettings(lookback_days=lookback_days, seed=seed),
            regions,
            communities,
            current=f,
            scope=scope,
        )
        users = users.merge(model.scores, on="user_id", how="left")
    tg = tags.infer(f)
    text = pd.Series("", index=users.index)
    for tag in tags.TAGS:
        has = users["user_id"].isin(tg.loc[tg["tag"] == tag, "user_id"])
        users[f"tag_{tag}"] = has
        text = text.where(~has, text + np.where(text == "", "", ",") + tag)
    users["tags"] = text
    return Segmentation(end, f.attrs["window_start"], users, tg, pm, model)


def segment_summary(seg: Segmentation) -> pd.DataFrame:
    """Size, value and risk of each persona.

    Returns
    -------
    pandas.DataFrame
        ``persona, users, share, monetary, monetary_share, margin, avg_basket,
        avg_frequency, avg_churn_prob`` in persona order.
    """
    u = seg.users
    g = u.groupby("persona")
    out = pd.DataFrame(
        {
            "users": g.size(),
            "monetary": g["monetary"].sum(),
            "margin": g["margin"].sum(),
            "avg_basket": g["basket_value"].mean(),
            "avg_frequency": g["frequency"].mean(),
            "avg_churn_prob": g["churn_prob"].mean() if "churn_prob" in u else float("nan"),
        }
    )
    out["share"] = out["users"] / out["users"].sum()
    out["monetary_share"] = out["monetary"] / max(out["monetary"].sum(), 1e-9)
    order = [p for p in personas.PERSONAS if p in out.index]
    out = out.loc[order].reset_index()
    return out[
        [
            "persona",
            "users",
            "share",
            "monetary",
            "monetary_share",
            "margin",
            "avg_basket",
            "avg_frequency",
            "avg_churn_prob",
        ]
    ]


def persona_trend(
    con: duckdb.DuckDBPyConnection,
    seg: Segmentation,
    start: date,
    end: date,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Orders and buyers per week and current persona over ``[start, end]``.

    Only orders placed in communities inside ``scope`` are counted.

    Raises
    ------
    ValueError
        For an empty date range.
    """
    _inputs.check_range(start, end)
    comms = scope.communities(con)
    lab = seg.users[["user_id", "persona"]]
    con.register("_seg_labels", lab)
    try:
        df = con.execute(
            """
            SELECT date_trunc('week', o.order_date)::DATE AS week, l.persona,
                   count(*) AS orders, count(DISTINCT o.user_id) AS buyers
            FROM orders o JOIN _seg_labels l USING (user_id)
            WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ?
              AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], o.community_id))
            GROUP BY ALL ORDER BY week, persona
            """,
            [start, end, comms, comms],
        ).df()
    finally:
        con.unregister("_seg_labels")
    return df
