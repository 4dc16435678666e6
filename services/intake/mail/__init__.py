"""Email normaliser: raw RFC 5322 bytes to a parsed mail (new text, quote, signature, attachments)
or a typed rejection (automatic mail, loops, garbage). Pure: no I/O, no await."""

from services.intake.mail.model import MailAttachment, MailLimits, ParsedMail
from services.intake.mail.parse import normalise_email

__all__ = ["MailAttachment", "MailLimits", "ParsedMail", "normalise_email"]
