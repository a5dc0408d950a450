"""Cold chain (冷链): alarm rules, live alarm evaluation, and the tables behind the live panel.

Modules, each one concept: ``setpoints`` (:class:`AlarmSettings`, loadable from TOML),
``alarms`` (the per-device alarm state machine, history excursions, mean kinetic
temperature), ``live`` (:class:`AlarmEngine`, the sink that evaluates newly stored
telemetry into ``alerts``) and ``store`` (device status, sparklines, alarm history,
acknowledgements, stock at risk, alarms of loaded history). Use them as modules:
``from engine.coldchain import store`` then ``store.device_status(cur, now)``.
"""
