"""Input limits: the one place where every parser's bounds are set (documented in docs/limits.md).

Three parsers take text from outside: the MQTT telemetry parser
(``connectors/mqtt/payload.py``), the file and database importer (``connectors/tables.py``,
``connectors/validation.py``) and the selection-rule parser (``engine/rules/``). Each reads its
bounds from here, so a limit is changed in one line and ``tests/security/`` checks the same
numbers. Anything outside a bound is rejected with the parser's own error (``RejectedError``,
an ``import_quarantine`` reason, ``RuleError``), never a raw Python or DuckDB exception.
"""

from __future__ import annotations

from datetime import date

# ---------------------------------------------------------------- dates (every parser)
# No business date before the platform era: year 1, 1900 or 1970 in a cell is a broken
# export or an epoch zero, not a sale.
DATE_MIN = date(2000, 1, 1)
# Far-future dates are refused by each parser's "not in the future" check; this caps what
# may be written at all (rule dates, launch dates in a rule).
DATE_MAX = date(2100, 12, 31)

# ---------------------------------------------------------------- MQTT telemetry
TELEMETRY_MAX_BYTES = 16_384  # a reading is ~200 bytes; 2 MB is an attack, not a sensor
TELEMETRY_MAX_DEPTH = 4  # a reading is one flat object; nesting is never needed
TELEMETRY_MAX_NUMBER_CHARS = 32  # digits, sign, point and exponent of one JSON number
TELEMETRY_MAX_TS_CHARS = 40  # 2026-07-01T11:59:00.123456+08:00 is 32
TELEMETRY_MAX_ID_CHARS = 64  # device_id and the topic's warehouse segment
TELEMETRY_MAX_MSG_ID_CHARS = 128  # a UUID is 32-36
TELEMETRY_MAX_FUTURE_S = 300.0  # tolerated clock skew into the future
TELEMETRY_MAX_AGE_DAYS = 31  # older readings are a device's broken clock, not a backlog
TELEMETRY_TEMP_C = (-60.0, 70.0)  # beyond what any cold-chain sensor can report
TELEMETRY_PERCENT = (0.0, 100.0)  # humidity and battery
LATITUDE = (-90.0, 90.0)
LONGITUDE = (-180.0, 180.0)

# ---------------------------------------------------------------- file and database import
IMPORT_MAX_TEXT_CHARS = 200  # a name, a building, a refund reason
# Yuan per unit (list price, unit price, cost, coupon): generous on purpose, the bound is
# for overflows and broken exports (1e308, inf), not for pricing policy.
IMPORT_MAX_PRICE = 100_000_000.0
IMPORT_MAX_QTY = 1_000_000  # units on an order line or a stock row
IMPORT_MAX_WEIGHT_KG = 10_000.0  # per unit; volume_l likewise
IMPORT_MAX_SHELF_LIFE_DAYS = 36_500
IMPORT_MAX_HOUSEHOLDS = 1_000_000
IMPORT_MAX_PRICE_SQM = 1_000_000.0  # yuan per square metre
IMPORT_BUILT_YEAR = (1900, 2100)
# Allowed values of coded text columns (the schema comments in engine/schema.sql).
ORDER_STATUSES = ("paid", "cancelled", "refunded")
STORAGE_KINDS = ("ambient", "chilled", "frozen")
COMMUNITY_TYPES = ("high_end", "young_family", "elderly", "mixed", "new_town")

# ---------------------------------------------------------------- selection rules
RULE_MAX_CHARS = 4_000  # the longest saved rule is a few hundred characters
RULE_MAX_DEPTH = 32  # nested parentheses plus 非/not, counted together
RULE_MAX_TREE_DEPTH = 100  # levels of and/or/not in a rule built in code (a parsed one is < 100)
RULE_MAX_NUMBER = 1e12  # |number| in a comparison (a GMV of a trillion yuan is a typo)
RULE_MAX_LAUNCH_DAYS = 3_650  # 上新 近 N 天 / launched within N days
