"""What a person may ask the notifier for and be refused (http.py maps each to an answer)."""


class NotifierError(Exception):
    """A request the notifier refuses; the message says why."""


class NotFound(NotifierError):
    """What the request names does not exist."""


class Forbidden(NotifierError):
    """The caller may not see or change what the request names."""
