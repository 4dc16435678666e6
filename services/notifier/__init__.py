"""Notifier: emails agents and managers about SLA breaches, pushes live updates to consoles."""
