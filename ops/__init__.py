"""Running Linli: the process supervisor behind `make run`, the command lines, the wiring.

Nothing here is a Streamlit adapter or a domain rule: ``ops.serve`` starts the broker, the
telemetry simulator and the app; ``ops.simulator`` publishes the demo world's live
telemetry; ``ops.users`` adds local users while the app is stopped; ``ops.wiring`` is the one
place where ``engine`` and ``connectors`` meet (the MQTT ingester and the alarm sink).
"""
