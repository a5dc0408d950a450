"""Running Linli: the process supervisor behind `make run` and the command lines.

Nothing here is a Streamlit adapter or a domain rule: ``ops.serve`` starts the broker, the
telemetry simulator and the app; ``ops.users`` adds local users while the app is stopped.
"""
