"""The five help-desk services, each run as its own process: `python -m services.<name>`."""
