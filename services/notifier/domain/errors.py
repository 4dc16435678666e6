"""What a person may ask the notifier for and be refused (http.py maps each to an answer)."""


class NotifierError(Exception):
    """A request the notifier refuses; the message says why."""


class NotFound(NotifierError):
    """What the request names does not exist."""


class Forbidden(NotifierError):
    """The caller may not see or change what the request names."""


class Conflict(NotifierError):
    """What the request would create is taken by somebody else's."""


class Unacceptable(NotifierError):
    """The request is well formed but cannot be carried out as asked (e.g. a webhook URL
    that reaches only refused addresses)."""
