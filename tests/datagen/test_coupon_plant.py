"""The coupon effect is planted only on request; the default world carries none of it."""

from __future__ import annotations

import pytest

from data import coupons


def test_default_world_plants_no_coupon_effect(world):
    """generate() alone leaves no trial, no coupon code on any order and no truth table."""
    cur = world.cursor()
    tables = {
        r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert (
        "truth_coupon_effect" not in tables
        or not cur.execute("SELECT count(*) FROM truth_coupon_effect").fetchone()[0]
    )
    assert (
        cur.execute("SELECT count(*) FROM orders WHERE coupon_code IS NOT NULL").fetchone()[0] == 0
    )


def test_customer_phones_are_distinct_mobile_numbers(world):
    """Every generated user has a distinct 11-digit mobile number (hashed, not drawn)."""
    phones = world.cursor().execute("SELECT phone FROM users").df()["phone"]
    assert phones.notna().all() and phones.is_unique
    assert phones.str.fullmatch(r"1[3-9]\d{9}").all()


def test_plant_refuses_bad_input(world):
    """Probabilities outside [0, 1] and unknown trials are clear errors."""
    with pytest.raises(ValueError, match="effect"):
        coupons.plant(world.cursor(), "x", 1.5)
    with pytest.raises(ValueError, match="no coupon trial"):
        coupons.plant(world.cursor(), "x", 0.5)
