"""Hostile mail built to a size: long lines, deep nesting, many parts, huge headers.

Each message aims at one way a parser can cost more than linear time (regex backtracking on a
long line, a loop over parts inside a loop, recursion on nesting) in the four languages whose
quote headers we recognise (en, fa, ru, el). `hostile_mails(size)` is shared by the unit test
that guards against blow-ups and by `python -m bench.intake`, which times them per 100 kB.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial

# Phrases that start or end a quote header, a signature, a disclaimer or a forward, per
# language: a long line made of them makes every pattern try (and fail) at every word.
PHRASES: dict[str, str] = {
    "en": "On Mon, 3 Jun 2024 Support <s@x.example> wrote Sent from my Best regards, "
    "From: Sent: Warning: mail ---------- Forwarded message Begin forwarded ",
    "ru": "3 июня 2024 г. в 10:15, Поддержка написал(а) пишет От: Отправлено: "
    "С уважением Внимание: почта Пересылаемое сообщение ",
    "el": "Στις Δευ, 3 Ιουν 2024, ο/η Υποστήριξη έγραψε Από: Στάλθηκε: Φιλικά "
    "Προσοχή: Προωθημένο μήνυμα ",
    "fa": "در تاریخ ۳ ژوئن ۲۰۲۴، پشتیبانی \u200fنوشت از: ارسال شده: با احترام "
    "توجه: پیام هدایت\u200cشده ",
}
LANGUAGES = tuple(PHRASES)
# Header names of the Outlook-style block per language.
HEADER_NAMES: dict[str, tuple[str, str]] = {
    "en": ("From", "Sent"),
    "ru": ("От", "Отправлено"),
    "el": ("Από", "Στάλθηκε"),
    "fa": ("از", "ارسال شده"),
}


def _mail(body: bytes, content_type: str = "text/plain; charset=utf-8", **extra: str) -> bytes:
    head = {
        "From": "Ann <ann@example.com>",
        "To": "support@helpdesk.example",
        "Subject": "Hostile",
        "MIME-Version": "1.0",
        "Content-Type": content_type,
        "Content-Transfer-Encoding": "8bit",
    }
    head.update({k.replace("_", "-"): v for k, v in extra.items()})
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v)
    return lines.encode("utf-8") + b"\r\n" + body


def _fill(unit: str, size: int) -> str:
    """`unit` repeated to about `size` UTF-8 bytes."""
    return unit * max(1, size // max(1, len(unit.encode("utf-8"))))


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _long_line(lang: str, size: int) -> bytes:
    return _mail(_fill(PHRASES[lang], size).encode("utf-8") + b"\r\n")


def _base64_line(lang: str, size: int) -> bytes:
    # SMTP's 998-character line limit does not protect: base64 decodes to one long line.
    line = _fill(PHRASES[lang], size * 3 // 4).encode("utf-8")
    return _mail(_base64(line), Content_Transfer_Encoding="base64")


def _header_lines(lang: str, size: int) -> bytes:
    # Thousands of short "From: / Sent:" lines: one endless Outlook header block.
    first, second = HEADER_NAMES[lang]
    return _mail(_fill(f"{first}: a\r\n{second}: b\r\n> ", size).encode("utf-8"))


def _wrote_lines(lang: str, size: int) -> bytes:
    # Every line a complete quote header, so each one is a candidate split.
    words = PHRASES[lang].split()
    line = " ".join(words[:8]) + {"en": " wrote:", "ru": " пишет:", "el": " έγραψε:"}.get(
        lang, " نوشت:"
    )
    return _mail(_fill(line + "\r\ntext\r\n", size).encode("utf-8"))


def _html_nested(size: int) -> bytes:
    return _mail(_fill("<div><b>", size).encode(), "text/html; charset=utf-8")


def _html_table(size: int) -> bytes:
    cells = _fill("<td>x</td>", size // 2)
    rows = _fill("<tr><td>y</td></tr>", size // 2)
    return _mail(f"<table><tr>{cells}</tr>{rows}</table>".encode(), "text/html; charset=utf-8")


def _html_line(size: int) -> bytes:
    return _mail(f"<p>{_fill(PHRASES['en'], size)}</p>".encode(), "text/html; charset=utf-8")


def _mime_depth(size: int) -> bytes:
    depth = max(1, size // 70)
    # Built as a list of openings and closings joined once: linear, not quadratic, in `size`.
    opening = [
        f'Content-Type: multipart/mixed; boundary="d{level}"\r\n\r\n--d{level}\r\n'.encode()
        for level in reversed(range(depth))
    ]
    closing = [f"\r\n--d{level}--\r\n".encode() for level in range(depth)]
    body = b"".join([*opening, b"Content-Type: text/plain\r\n\r\ninnermost\r\n", *closing])
    head, _, rest = body.partition(b"\r\n\r\n")
    return _mail(rest, head.decode().split(": ", 1)[1])


def _rfc822_depth(size: int) -> bytes:
    depth = max(1, size // 90)
    inner = b"From: b@example.com\r\nSubject: inner\r\n\r\nforwarded\r\n"
    wrapper = b"From: c@example.com\r\nContent-Type: message/rfc822\r\n\r\n"
    return _mail(wrapper * depth + inner, "message/rfc822")


def _parts(size: int, part: bytes) -> bytes:
    count = max(1, size // (len(part) + 8))
    body = b"".join(b"--p\r\n" + part + b"\r\n" for _ in range(count)) + b"--p--\r\n"
    return _mail(body, 'multipart/mixed; boundary="p"')


def _many_parts(size: int) -> bytes:
    return _parts(size, b"Content-Type: text/plain; charset=utf-8\r\n\r\nsome text")


def _mislabelled_parts(size: int) -> bytes:
    # Every part needs the charset detector: Cyrillic cp1251 bytes labelled Latin-1.
    text = "Здравствуйте, заказ не доставлен".encode("cp1251")
    return _parts(size, b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n" + text)


def _attachments(size: int) -> bytes:
    return _parts(
        size,
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="a.pdf"\r\n\r\n%PDF',
    )


def _huge_subject(size: int) -> bytes:
    return _mail(b"Hello\r\n", Subject=_fill(PHRASES["ru"], size))


def _folded_subject(size: int) -> bytes:
    return _mail(b"Hello\r\n", Subject=_fill("word word\r\n ", size))


def _encoded_words(size: int) -> bytes:
    word = "=?utf-8?b?" + base64.b64encode("Привет ".encode()).decode() + "?= "
    return _mail(b"Hello\r\n", Subject=_fill(word, size))


def _header_8bit(size: int) -> bytes:
    raw = _fill("Счет на оплату ", size).encode("cp1251")
    return _mail(b"Hello\r\n").replace(b"Subject: Hostile", b"Subject: " + raw)


def _addresses(size: int) -> bytes:
    return _mail(b"Hello\r\n", To=_fill("Name <a@example.com>, ", size).rstrip(", "))


def _comments(size: int) -> bytes:
    return _mail(b"Hello\r\n", From="Ann " + "(" * (size // 2) + " <ann@example.com>")


def _many_headers(size: int) -> bytes:
    return _fill("X-Filler: value\r\n", size).encode() + _mail(b"Hello\r\n")


def _references(size: int) -> bytes:
    return _mail(b"Hello\r\n", References=_fill("<id@example.com>\r\n ", size).rstrip())


def _no_from(size: int) -> bytes:
    # No usable From: the fallbacks (Sender, Reply-To) are tried on huge values too.
    return _mail(
        b"Hello\r\n",
        From=_fill("no address here ", size // 2),
        Reply_To=_fill("nor here ", size // 2),
    )


def _spaces(size: int) -> bytes:
    return _mail(b"a" + b" " * size + b"b\r\n")


def _forwards(lang: str, size: int) -> bytes:
    marker = {
        "en": "---------- Forwarded message ---------",
        "ru": "---------- Пересылаемое сообщение ---------",
        "el": "---------- Προωθημένο μήνυμα ---------",
        "fa": "---------- پیام هدایت\u200cشده ---------",
    }[lang]
    first, second = HEADER_NAMES[lang]
    return _mail(_fill(f"{marker}\r\n{first}: a\r\n{second}: b\r\n\r\ntext\r\n", size).encode())


def hostile_mails(size: int) -> dict[str, bytes]:
    """Every hostile message, by name, each about `size` bytes."""
    builders: dict[str, Callable[[int], bytes]] = {
        "html_nested": _html_nested,
        "html_table": _html_table,
        "html_long_line": _html_line,
        "mime_depth": _mime_depth,
        "rfc822_depth": _rfc822_depth,
        "many_parts": _many_parts,
        "mislabelled_parts": _mislabelled_parts,
        "attachments": _attachments,
        "huge_subject": _huge_subject,
        "folded_subject": _folded_subject,
        "encoded_words": _encoded_words,
        "header_8bit": _header_8bit,
        "addresses": _addresses,
        "comments": _comments,
        "many_headers": _many_headers,
        "references": _references,
        "no_from": _no_from,
        "spaces": _spaces,
    }
    for lang in LANGUAGES:
        for family, build in (
            ("long_line", _long_line),
            ("base64_line", _base64_line),
            ("header_lines", _header_lines),
            ("wrote_lines", _wrote_lines),
            ("forwards", _forwards),
        ):
            builders[f"{family}_{lang}"] = partial(build, lang)
    return {name: build(size) for name, build in builders.items()}
