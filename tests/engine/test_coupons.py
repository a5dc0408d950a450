"""Coupons: randomised hold-out, idempotent sending, redemption and planted-truth uplift."""

from __future__ import annotations

import shutil
from datetime import timedelta

import numpy as np
import pytest

from data import coupons as plant
from engine import auth, clock
from engine import db as dbmod
from engine.coupons import issue, uplift

MANAGER = auth.Scope(regions=(3,))


class Collector:
    """An in-memory outbox honouring the idempotency key, like ``outbox.enqueue``."""

    def __init__(self, fail_after: int | None = None):
        self.messages: dict[str, dict] = {}
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, *, key, kind, channel, recipient, subject, body, attachments=None):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise ConnectionError("outbox unavailable")
        if key in self.messages:
            return False
        self.messages[key] = {"kind": kind, "channel": channel, "recipient": recipient,
                              "subject": subject, "body": body}  # fmt: skip
        return True


def _offers(cur, issued_on, days=30, value=5.0):
    """Every buyer of the ``days`` before the issue day, offered ``value`` yuan."""
    return cur.execute(
        "SELECT DISTINCT user_id, ?::DOUBLE AS coupon FROM orders "
        "WHERE status = 'paid' AND order_date BETWEEN ? AND ?",
        [value, issued_on - timedelta(days=days), issued_on - timedelta(days=1)],
    ).df()


@pytest.fixture
def copy(world_file, tmp_path):
    """A writable copy of the small world (planting changes orders)."""
    path = tmp_path / "w.duckdb"
    shutil.copy(world_file, path)
    con = dbmod.connect(path)
    yield con
    con.close()


def test_assign_is_random_reproducible_and_sized():
    """The hold-out has the configured share, is fixed by the seed and differs across seeds."""
    users = np.arange(1000, 2000)
    a = issue.assign(users, 0.25, seed=1)
    assert (a == "holdout").sum() == 250
    assert (issue.assign(users, 0.25, seed=1) == a).all()
    b = issue.assign(users, 0.25, seed=2)
    assert (a != b).any()
    # Not a block of ids: the hold-out's mean id is near the middle.
    assert abs(users[a == "holdout"].mean() - users.mean()) < 50
    assert (issue.assign(np.array([1, 2]), 0.01, 0) == "holdout").sum() == 1
    with pytest.raises(ValueError, match="at least 2"):
        issue.assign(np.array([1]), 0.5, 0)
    with pytest.raises(ValueError, match="holdout_share"):
        issue.CouponSettings(holdout_share=1.0)


def test_issue_sends_the_coupon_arm_only_and_never_twice(copy):
    """Each coupon-arm user gets one message with code, value and expiry; the hold-out none."""
    day = clock.as_of(copy) - timedelta(days=10)
    offers = _offers(copy, day)
    box = Collector()
    s = issue.CouponSettings(holdout_share=0.3, valid_days=7, seed=4)
    trial = issue.issue(copy, offers, day, send=box, username="rm", settings=s)
    rows = copy.execute("SELECT * FROM coupons WHERE trial_id = ?", [trial.trial_id]).df()
    assert len(rows) == len(offers) == trial.n_coupon + trial.n_holdout
    assert trial.n_holdout == round(0.3 * len(offers))
    cpn = rows[rows["arm"] == "coupon"]
    assert len(box.messages) == len(cpn) == trial.sent
    assert rows.loc[rows["arm"] == "holdout", "code"].isna().all()
    assert (rows.loc[rows["arm"] == "holdout", "value"] == 0).all()
    assert cpn["code"].is_unique and cpn["code"].str.fullmatch(r"LL[0-9A-F]{10}").all()
    phones = dict(copy.execute("SELECT user_id, phone FROM users").fetchall())
    region = dict(
        copy.execute(
            "SELECT u.user_id, c.region_id FROM users u JOIN communities c USING (community_id)"
        ).fetchall()
    )
    for r in cpn.itertuples():
        msg = box.messages[f"coupon:{trial.trial_id}:{r.user_id}"]
        assert msg["kind"] == "coupon" and msg["recipient"] == phones[r.user_id]
        assert msg["channel"] == f"customer@{region[r.user_id]}"
        assert r.code in msg["body"] and "¥5" in msg["subject"]
        assert str(day + timedelta(days=6)) in msg["body"]  # the expiry date
    # Issuing again resumes the same trial and hands nothing over twice.
    again = issue.issue(copy, offers, day, send=box, username="rm", settings=s)
    assert again.trial_id == trial.trial_id and again.sent == 0
    assert box.calls == len(cpn)


def test_a_crash_mid_sending_loses_nothing_and_sends_nothing_twice(copy):
    """A send that fails part-way leaves the rest for the next issue call, each coupon once."""
    day = clock.as_of(copy) - timedelta(days=5)
    offers = _offers(copy, day, value=3.0)
    box = Collector(fail_after=40)
    with pytest.raises(ConnectionError):
        issue.issue(copy, offers, day, send=box, username="rm")
    box.fail_after = None
    trial = issue.issue(copy, offers, day, send=box, username="rm")
    assert trial.sent == trial.n_coupon - 40
    assert len(box.messages) == trial.n_coupon
    assert copy.execute(
        "SELECT bool_and(sent) FROM coupons WHERE trial_id = ? AND arm = 'coupon'",
        [trial.trial_id],
    ).fetchone()[0]


def test_issue_keeps_to_the_scope_and_minimum_value(copy):
    """A regional manager's trial holds only their region's users; tiny offers are left out."""
    day = clock.as_of(copy) - timedelta(days=3)
    offers = _offers(copy, day)
    offers.loc[offers.index[:10], "coupon"] = 0.5
    trial = issue.issue(copy, offers, day, send=Collector(), username="rm", scope=MANAGER)
    regions = copy.execute(
        "SELECT DISTINCT c.region_id FROM coupons k JOIN users u USING (user_id) "
        "JOIN communities c ON c.community_id = u.community_id WHERE k.trial_id = ?",
        [trial.trial_id],
    ).fetchall()
    assert regions == [(3,)]
    small = set(offers.loc[offers.index[:10], "user_id"])
    got = set(
        copy.execute("SELECT user_id FROM coupons WHERE trial_id = ?", [trial.trial_id]).df()[
            "user_id"
        ]
    )
    assert not small & got
    with pytest.raises(ValueError, match="lack"):
        issue.issue(copy, offers[["user_id"]], day, send=Collector(), username="rm")


@pytest.mark.parametrize(("effect", "seed"), [(0.5, 1), (0.5, 2), (0.0, 1), (0.0, 2)])
def test_uplift_interval_covers_the_planted_effect(copy, effect, seed):
    """The measured 95 % interval covers the planted effect; a zero effect gives one covering 0."""
    day = clock.as_of(copy) - timedelta(days=20)
    s = issue.CouponSettings(holdout_share=0.5, valid_days=21, seed=seed)
    trial = issue.issue(copy, _offers(copy, day), day, send=Collector(), username="t", settings=s)
    extra = plant.plant(copy, trial.trial_id, effect, seed=seed + 10)
    truth = copy.execute(
        "SELECT value FROM truth_coupon_effect WHERE trial_id = ?", [trial.trial_id]
    ).fetchone()[0]
    assert truth == effect
    u = uplift.measure(copy, trial.trial_id)
    assert u.complete and u.level == 0.95
    for e in (u.orders, u.orders_cuped):
        assert e.low <= effect <= e.high, (e, effect)
    # The pre-period adjustment narrows the interval.
    assert u.orders_cuped.high - u.orders_cuped.low < u.orders.high - u.orders.low
    if effect > 0:
        assert u.orders_cuped.low > 0  # the effect is detected, not just covered
        # Redemption is not uplift: more users redeem than placed an extra order.
        assert u.redeemed > extra
    else:
        assert extra == 0


def test_measure_says_what_is_missing(copy):
    """An unknown trial, or one whose window has no orders loaded, is a clear error."""
    with pytest.raises(uplift.NotMeasurableError, match="no coupon trial"):
        uplift.measure(copy, "nope")
    day = clock.as_of(copy) + timedelta(days=1)
    offers = _offers(copy, day)
    trial = issue.issue(copy, offers, day, send=Collector(), username="t")
    with pytest.raises(uplift.NotMeasurableError, match="no orders loaded"):
        uplift.measure(copy, trial.trial_id)


def test_welch_matches_the_textbook_formula():
    """Welch's interval: difference of means ± z · sqrt(s1²/n1 + s0²/n0)."""
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 1.0])
    e = uplift.welch(a, b, 0.95)
    se = np.sqrt(np.var(a, ddof=1) / 4 + np.var(b, ddof=1) / 3)
    assert e.uplift == pytest.approx(2.5 - 2 / 3)
    assert e.high - e.uplift == pytest.approx(1.959964 * se, rel=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        uplift.welch(a, b[:1])
