"""Intake: contacts from email, phone and chat become ticket events; agents' actions too."""
