"""The leader workbench (团长工作台): pickup lists, groups near threshold, commission, tiers.

``pickup`` builds tomorrow's pickup list per pickup point (phones masked unless the role may
see them) and the groups close to their threshold; ``commission`` the commission statement of
a period with its settlement status; ``ranking`` the leader ranking and its tiers.
"""
