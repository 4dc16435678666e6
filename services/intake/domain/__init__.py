"""Pure intake logic: customers, threading, what contacts and agents' actions do to tickets."""

from services.intake.domain.actions import (
    Action,
    InvalidTransition,
    status_after,
)
from services.intake.domain.contacts import (
    Decision,
    Facts,
    check,
    close_chat,
    contact_text,
    join_ticket,
    match_text,
    open_ticket,
)
from services.intake.domain.customers import (
    Identity,
    e164,
    identities_of,
    new_customer_id,
    repeat_of,
    similarity,
    survivor,
    topic_terms,
)
from services.intake.domain.threading import (
    REFERENCE,
    body_reference,
    header_keys,
    message_key,
    outcome,
    own_keys,
    subject_reference,
    with_reference,
)

__all__ = [
    "REFERENCE",
    "Action",
    "Decision",
    "Facts",
    "Identity",
    "InvalidTransition",
    "body_reference",
    "check",
    "close_chat",
    "contact_text",
    "e164",
    "header_keys",
    "identities_of",
    "join_ticket",
    "match_text",
    "message_key",
    "new_customer_id",
    "open_ticket",
    "outcome",
    "own_keys",
    "repeat_of",
    "similarity",
    "status_after",
    "subject_reference",
    "survivor",
    "topic_terms",
    "with_reference",
]
