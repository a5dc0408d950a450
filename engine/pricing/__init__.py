"""Pricing: elasticities, demand response, group success, what-ifs, optimiser, clearance.

Modules, one concept each:

- ``glm``: complementary log-log binomial regression with absorbed fixed effects;
- ``data``: the campaign frames the models learn from;
- ``elasticity``: price elasticities by category, SKU, community type and user segment;
- ``response``: a campaign's demand response (expected units, their negative-binomial
  distribution) and its calibrated group-success probability 成团率;
- ``whatif``: scenario simulation, price/threshold curves and the optimiser;
- ``markdown``: day-by-day clearance discounts for near-expiry stock (dynamic programming).
"""
