"""Coupons that are sent and measured.

``issue`` turns offers (e.g. :func:`engine.segmentation.churn.retention_offers`) into a coupon
trial: the eligible users are split at random into a coupon arm, whose coupons (code, value,
expiry, user) are handed to a send callable, and a hold-out arm that gets nothing. ``uplift``
measures redemption and the effect on orders against that hold-out, with a confidence interval.
"""
