"""What a knowledge-base use case can refuse; `http.py` maps each to one HTTP answer."""

from __future__ import annotations


class NotFound(LookupError):
    """No such article, canned response, text or offered article."""


class BadLink(Exception):
    """A self-help link that is forged, expired or not a self-help link at all."""


class Conflict(Exception):
    """The change cannot be made as asked: the id is taken, or the article moved on."""


class StaleVersion(Conflict):
    """The article changed since the editor read it."""


class NotAllowed(Exception):
    """A move the article's status does not allow."""


class InvalidChange(ValueError):
    """A change that cannot be made to any article (removing its last translation, say)."""


class Forbidden(Exception):
    """The person may not do this (only leads, managers and editors publish)."""


class Unavailable(Exception):
    """The feature is not configured on this deployment (no token secret, say)."""
