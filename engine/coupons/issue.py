"""Issue a coupon trial: randomise eligible users into coupon and hold-out arms, then send.

The send callable is the outbox's ``enqueue`` with the connection bound
(``functools.partial(engine.actions.outbox.enqueue, con)``, see ``dashboard.coupons.sender``);
it is called with keyword arguments ``key, kind, channel, recipient, subject, body`` — the
channel ``customer@<region_id>`` of the user's region — and returns whether the message was
newly queued. The key is ``coupon:<trial>:<user>``, so issuing again (after a crash, say)
never sends twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import audit
from engine.auth import ALL, Scope

Send = Callable[..., bool]
SEND_BATCH = 500  # coupons handed over between two writes of their sent flags


@dataclass(frozen=True)
class CouponSettings:
    """How a trial is drawn and what the coupon says.

    ``holdout_share`` of the eligible users (at least one) get nothing; coupons are valid
    ``valid_days`` days from the issue day, both included; offers below ``min_value`` yuan are
    not eligible; ``seed`` fixes the randomisation.
    """

    holdout_share: float = 0.2
    valid_days: int = 14
    min_value: float = 1.0
    seed: int = 0
    channel: str = "customer"  # outbox channel role; sent as ``customer@<region_id>``
    source: str = "retention_offers"

    def __post_init__(self) -> None:
        if not 0 < self.holdout_share < 1:
            raise ValueError(f"holdout_share must be in (0, 1), got {self.holdout_share}")
        if self.valid_days < 1:
            raise ValueError(f"valid_days must be at least 1, got {self.valid_days}")
        if self.min_value < 0:
            raise ValueError(f"min_value must be ≥ 0, got {self.min_value}")


@dataclass(frozen=True)
class Trial:
    """An issued trial: its id, dates and arm sizes, and how many coupons this call queued."""

    trial_id: str
    issued_on: date
    expires_on: date
    n_coupon: int
    n_holdout: int
    sent: int


def assign(user_ids: np.ndarray, holdout_share: float, seed: int) -> np.ndarray:
    """Complete randomisation: ``round(n · holdout_share)`` users (at least 1) to the hold-out.

    Parameters
    ----------
    user_ids
        Eligible users (distinct).
    holdout_share
        Share held out, in (0, 1).
    seed
        Random seed.

    Returns
    -------
    numpy.ndarray
        ``"coupon"`` or ``"holdout"`` per user, in the order given.

    Raises
    ------
    ValueError
        With fewer than 2 users (both arms need one) or duplicated users.
    """
    n = len(user_ids)
    if n < 2:
        raise ValueError(f"a trial needs at least 2 eligible users, got {n}")
    if len(np.unique(user_ids)) != n:
        raise ValueError("eligible users must be distinct")
    k = int(min(max(round(n * holdout_share), 1), n - 1))
    order = np.random.default_rng(seed).permutation(n)
    arm = np.full(n, "coupon", dtype=object)
    arm[order[:k]] = "holdout"
    return arm


def code(trial_id: str, user_id: int) -> str:
    """A coupon code: 10 characters of a hash of trial and user (stable, hard to guess)."""
    digest = hashlib.sha256(f"{trial_id}:{int(user_id)}".encode()).hexdigest()
    return "LL" + digest[:10].upper()


def _trial_id(issued_on: date, users: np.ndarray, s: CouponSettings) -> str:
    h = hashlib.sha256(
        f"{issued_on}:{s.seed}:{s.holdout_share}:{s.source}:{','.join(map(str, sorted(users)))}".encode()
    ).hexdigest()
    return f"CT{issued_on:%Y%m%d}-{h[:8]}"


def issue(
    con: duckdb.DuckDBPyConnection,
    offers: pd.DataFrame,
    issued_on: date,
    *,
    send: Send,
    username: str,
    settings: CouponSettings | None = None,
    scope: Scope = ALL,
) -> Trial:
    """Draw a trial from ``offers``, store it, and hand each coupon to ``send``.

    Issuing the same offers on the same day with the same settings again resumes the same
    trial and hands over only coupons not yet sent.

    Parameters
    ----------
    con
        Writable connection.
    offers
        ``user_id`` and ``coupon`` (value in yuan), e.g. retention offers; users inside the
        scope with ``coupon ≥ min_value`` are eligible.
    issued_on
        First valid day.
    send
        Called per coupon with keyword arguments ``key, kind, channel, recipient, subject,
        body``; returns True if newly queued (False: already queued under that key).
    username
        Who issues (audit log).
    settings
        Randomisation and coupon settings.
    scope
        Row scope of the caller.

    Returns
    -------
    Trial
        The stored trial.

    Raises
    ------
    ValueError
        For missing columns, fewer than 2 eligible users, or bad settings.
    """
    s = settings or CouponSettings()
    missing = {"user_id", "coupon"} - set(offers.columns)
    if missing:
        raise ValueError(f"offers lack column(s): {sorted(missing)}")
    elig = offers.loc[offers["coupon"] >= s.min_value, ["user_id", "coupon"]]
    elig = elig.drop_duplicates("user_id")
    users = con.execute(
        "SELECT user_id, community_id, phone FROM users WHERE list_contains(?::INTEGER[], user_id)",
        [elig["user_id"].astype(int).tolist()],
    ).df()
    users = scope.keep(con, users)
    elig = elig.merge(users, on="user_id").sort_values("user_id").reset_index(drop=True)
    uid = elig["user_id"].to_numpy(dtype=np.int64)
    arm = assign(uid, s.holdout_share, s.seed)
    expires = issued_on + timedelta(days=s.valid_days - 1)
    trial_id = _trial_id(issued_on, uid, s)
    if not con.execute("SELECT 1 FROM coupon_trials WHERE trial_id = ?", [trial_id]).fetchone():
        rows = pd.DataFrame(
            {
                "trial_id": trial_id,
                "user_id": uid.astype(np.int32),
                "arm": arm,
                "code": [
                    code(trial_id, u) if a == "coupon" else None
                    for u, a in zip(uid, arm, strict=True)
                ],
                "value": np.where(arm == "coupon", elig["coupon"].to_numpy(dtype=float), 0.0),
                "sent": False,
            }
        )
        con.execute("BEGIN")
        try:
            con.execute(
                "INSERT INTO coupon_trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [trial_id, issued_on, expires, s.holdout_share, s.seed, s.source,
                 datetime.now(), username],
            )  # fmt: skip
            con.register("_coupon_rows", rows)
            con.execute("INSERT INTO coupons BY NAME SELECT * FROM _coupon_rows")
            con.unregister("_coupon_rows")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        audit.record(
            con, username, "coupon_trial_issued", {"trial_id": trial_id, "users": len(uid)}
        )
    todo = con.execute(
        "SELECT c.user_id, c.code, c.value, u.phone, m.region_id FROM coupons c "
        "LEFT JOIN users u USING (user_id) LEFT JOIN communities m USING (community_id) "
        "WHERE c.trial_id = ? AND c.arm = 'coupon' AND NOT c.sent ORDER BY c.user_id",
        [trial_id],
    ).fetchall()
    queued = 0
    for i in range(0, len(todo), SEND_BATCH):
        batch = todo[i : i + SEND_BATCH]
        for user_id, cpn, value, phone, region in batch:
            queued += bool(
                send(
                    key=f"coupon:{trial_id}:{user_id}",
                    kind="coupon",
                    # The channel of the role in the user's region (the outbox falls back to
                    # the role's platform-wide channel when the region has none).
                    channel=s.channel if region is None else f"{s.channel}@{region}",
                    recipient=phone or f"user:{user_id}",
                    subject=f"邻里优惠券 ¥{value:g}",
                    body=(
                        f"送您一张 ¥{value:g} 优惠券，券码 {cpn}，"
                        f"{issued_on:%Y-%m-%d} 至 {expires:%Y-%m-%d} 下单可用。"
                    ),
                )
            )
        # Marked per batch: a crash mid-batch hands that batch over again on the next call,
        # and the outbox's key turns those repeats into no-ops (nothing is sent twice).
        con.execute(
            "UPDATE coupons SET sent = true WHERE trial_id = ? "
            "AND list_contains(?::INTEGER[], user_id)",
            [trial_id, [int(r[0]) for r in batch]],
        )
    n_hold = int((arm == "holdout").sum())
    return Trial(trial_id, issued_on, expires, len(uid) - n_hold, n_hold, queued)


def trials(con: duckdb.DuckDBPyConnection, scope: Scope = ALL) -> pd.DataFrame:
    """Issued trials, newest first, with arm sizes and coupons sent (users inside the scope).

    Parameters
    ----------
    con
        An open connection.
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``trial_id, issued_on, expires_on, holdout_share, source, n_coupon, n_holdout, sent``.
    """
    rows = con.execute(
        "SELECT t.trial_id, t.issued_on, t.expires_on, t.holdout_share, t.source, c.user_id, "
        "c.arm, c.sent, u.community_id FROM coupon_trials t JOIN coupons c USING (trial_id) "
        "JOIN users u USING (user_id)"
    ).df()
    rows = scope.keep(con, rows)
    cols = ["trial_id", "issued_on", "expires_on", "holdout_share", "source"]
    if rows.empty:
        return pd.DataFrame(columns=[*cols, "n_coupon", "n_holdout", "sent"])
    out = rows.groupby(cols).agg(
        n_coupon=("arm", lambda a: int((a == "coupon").sum())),
        n_holdout=("arm", lambda a: int((a == "holdout").sum())),
        sent=("sent", "sum"),
    )
    return out.reset_index().sort_values("issued_on", ascending=False).reset_index(drop=True)
