"""A real SMTP server's handler that keeps every message the services send, for the
end-to-end tests to read as the recipient would."""

from __future__ import annotations

from typing import Any


class MailCatcher:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.content, policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        self.messages.append(
            {
                "to": envelope.rcpt_tos,
                "subject": str(msg["subject"]),
                "message_id": str(msg["message-id"]),
                "body": text.get_content() if text is not None else "",
            }
        )
        return "250 OK"
