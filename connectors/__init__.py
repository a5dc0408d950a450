"""The outside world: MQTT, files, operational databases, notification channels, exports.

connectors/ never imports streamlit, and depends on engine/ only through its contract
modules: ``engine.db`` (schema and meta), ``engine.clock`` (the world's time zone and today),
``engine.afterload`` (the step after rows land) and ``engine.cells`` (spreadsheet-safe
cells). engine/ never imports connectors/.
"""
