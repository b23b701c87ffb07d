"""The pipeline stages; each exposes ``run(run: Run)`` and reads/writes artifacts only through ``Run``."""
