"""Actions: decisions that leave the dashboard (issue 19).

- :mod:`engine.actions.outbox`: every outgoing message, idempotent, retried, with its status;
- :mod:`engine.actions.channels`: where each role's messages go, per region;
- :mod:`engine.actions.publish`: an approved plan becomes listings, leader lists and orders;
- :mod:`engine.actions.alarms`: cold-chain alarms notified, escalated, stock proposals;
- :mod:`engine.actions.digest`: the regional manager's daily digest;
- :mod:`engine.actions.jobs`: scheduled job runs and their last result.

The sending itself (apprise) is in :mod:`connectors.channels`, joined to the outbox in
:mod:`ops.actions`; the scheduler is :mod:`ops.scheduler`.
"""
