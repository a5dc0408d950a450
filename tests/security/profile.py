"""The hypothesis profile every fuzzer in tests/security/ runs (issue 20: >= 10,000 examples).

``security`` is 10,000 examples per fuzzer, derandomised (the same examples on every machine,
so CI runs exactly what was measured), without a per-example deadline (the machine is
shared) and without an example database. ``HYPOTHESIS_PROFILE=quick`` runs 500 for a fast
local check. The profile is applied per test (``@FUZZ``), not loaded globally, so other
suites keep hypothesis' defaults.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = 10_000
settings.register_profile(
    "security",
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("quick", parent=settings.get_profile("security"), max_examples=500)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "security")
FUZZ = settings(settings.get_profile(PROFILE if PROFILE in ("security", "quick") else "security"))
