"""Which agents' actions fit a ticket's status, and who may act on it."""

from __future__ import annotations

import pytest

from services.intake.domain import InvalidTransition, status_after


@pytest.mark.parametrize(
    ("current", "action", "after"),
    [
        ("open", "reply", None),
        ("open", "note", None),
        ("resolved", "note", None),
        ("open", "pending", "pending"),
        ("pending", "on_hold", "on_hold"),
        ("on_hold", "resolve", "resolved"),
        ("resolved", "reopen", "reopened"),
        ("closed", "reopen", "reopened"),
        ("reopened", "escalate", None),
        ("open", "transfer", None),
        ("pending", "priority", None),
    ],
)
def test_allowed_actions_lead_to_their_status(current: str, action: str, after: str) -> None:
    assert status_after(current, action) == after


@pytest.mark.parametrize(
    ("current", "action", "message"),
    [
        ("resolved", "reply", "reopen it first"),
        ("resolved", "resolve", "cannot resolve"),
        ("open", "reopen", "cannot reopen a ticket that is open"),
        ("pending", "pending", "cannot set to pending a ticket that is pending"),
        ("open", "dance", "unknown action"),
    ],
)
def test_actions_that_do_not_fit_are_refused_with_a_reason(
    current: str, action: str, message: str
) -> None:
    with pytest.raises(InvalidTransition, match=message):
        status_after(current, action)
