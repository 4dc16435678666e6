"""Writes the .eml corpus byte for byte (each charset exactly as a mail client sends it).

Run once from the repository root: python tests/corpus/mail/make_corpus.py
"""

from __future__ import annotations

import base64
import quopri
import random
from email.header import Header
from pathlib import Path

HERE = Path(__file__).parent
DATE = "Mon, 03 Jun 2024 10:15:00 +0300"
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def headers(*pairs: tuple[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("ascii")


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def mail(
    subject: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    encoding: str = "8bit",
    sender: str = "Ann Smith <ann.smith@example.com>",
    extra: tuple[tuple[str, str], ...] = (),
    msg_id: str = "<m1@example.com>",
) -> bytes:
    head = headers(
        ("From", sender),
        ("To", "Support <support@helpdesk.example>"),
        ("Subject", subject),
        ("Date", DATE),
        ("Message-ID", msg_id),
        *extra,
        ("MIME-Version", "1.0"),
        ("Content-Type", content_type),
        ("Content-Transfer-Encoding", encoding),
    )
    return head + b"\r\n" + body


def qp(text: str, charset: str) -> bytes:
    return quopri.encodestring(text.encode(charset)).replace(b"\n", b"\r\n")


def b64(data: bytes) -> bytes:
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return encoded


def part(content_type: str, body: bytes, encoding: str = "8bit", *extra: str) -> bytes:
    lines = [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {encoding}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


def multipart(boundary: str, *parts: bytes) -> bytes:
    out = b""
    for p in parts:
        out += f"--{boundary}\r\n".encode() + p + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def enc(text: str, charset: str = "utf-8") -> bytes:
    return crlf(text).encode(charset)


def h(text: str, charset: str = "utf-8") -> str:
    return Header(text, charset).encode()


CORPUS: dict[str, bytes] = {}

CORPUS["en_gmail_reply.eml"] = mail(
    "Re: Router keeps dropping the connection",
    enc(
        "Hi,\n\nThe router dropped the connection again this morning, three times before 9am.\n"
        "I already restarted it as you suggested.\n\n-- \nAnn Smith\nACME Ltd, +44 20 7946 0000\n\n"
        "On Fri, 31 May 2024 at 16:02, Support <support@helpdesk.example> wrote:\n"
        "> Please restart the router and tell us if it happens again.\n>\n> Kind regards,\n"
        "> The support team\n"
    ),
    extra=(
        ("In-Reply-To", "<r1@helpdesk.example>"),
        ("References", "<t0@helpdesk.example>\r\n <r1@helpdesk.example>"),
    ),
)

CORPUS["en_outlook_reply.eml"] = mail(
    "RE: Invoice 4711 is wrong",
    enc(
        "Hello,\n\nThe invoice still shows 12 licences, we only have 10.\n\nBest regards,\n"
        "Bob Jones\nFinance\n\n"
        "From: Support <support@helpdesk.example>\nSent: Friday, May 31, 2024 4:02 PM\n"
        "To: Bob Jones <bob@example.org>\nSubject: RE: Invoice 4711 is wrong\n\n"
        "We have corrected the invoice.\n"
    ),
    sender="Bob Jones <Bob@Example.ORG>",
    encoding="7bit",
)

CORPUS["alternative.eml"] = mail(
    "Printer offline",
    multipart(
        "alt1",
        part(
            "text/plain; charset=utf-8",
            qp("The printer on floor 2 shows “offline”.\n", "utf-8"),
            "quoted-printable",
        ),
        part(
            "text/html; charset=utf-8",
            enc(
                "<html><body><p>The printer on <b>floor 2</b> shows offline (HTML).</p>"
                "</body></html>\n"
            ),
        ),
    ),
    content_type='multipart/alternative; boundary="alt1"',
    encoding="7bit",
)

CORPUS["html_only.eml"] = mail(
    "Order problem",
    enc(
        "<html><head><style>td { color: red }</style><script>var tracking = 1;</script></head>"
        "<body><p>Hello, these items arrived broken:</p>"
        "<table><tr><th>Item</th><th>Quantity</th></tr><tr><td>Keyboard</td><td>2</td></tr>"
        "<tr><td>Monitor</td><td>1</td></tr></table>"
        "<ul><li>box was open</li><li>no invoice</li></ul>"
        '<p>Photos: <a href="https://photos.example.com/album/42">album</a></p></body></html>\n'
    ),
    content_type="text/html; charset=utf-8",
)

_related = part(
    'multipart/related; boundary="rel1"',
    multipart(
        "rel1",
        part(
            "text/html; charset=utf-8",
            enc('<p>See the error in the screenshot <img src="cid:shot1@example.com"></p>\n'),
        ),
        part(
            "image/png",
            b64(_PNG),
            "base64",
            "Content-ID: <shot1@example.com>",
            'Content-Disposition: inline; filename="screenshot.png"',
        ),
    ),
    "7bit",
)
CORPUS["nested_related_pdf.eml"] = mail(
    "Error when saving",
    multipart(
        "mix1",
        part(
            'multipart/alternative; boundary="alt2"',
            multipart(
                "alt2",
                part(
                    "text/plain; charset=utf-8",
                    enc("See the error in the screenshot [image: screenshot.png]\n"),
                ),
                _related,
            ),
            "7bit",
        ),
        part(
            'application/pdf; name="report.pdf"',
            b64(_PDF),
            "base64",
            'Content-Disposition: attachment; filename="report.pdf"',
        ),
    ),
    content_type='multipart/mixed; boundary="mix1"',
    encoding="7bit",
)

_inner = (
    headers(
        ("From", "Carol Vendor <carol@vendor.example>"),
        ("To", "ann.smith@example.com"),
        ("Subject", "Your licence expires"),
        ("Date", DATE),
        ("Content-Type", "text/plain; charset=utf-8"),
    )
    + b"\r\n"
    + enc("Your licence expires on 30 June.\n\nOn Thu, Carol wrote:\n> older\n")
)
CORPUS["forward_rfc822.eml"] = mail(
    "Fwd: Your licence expires",
    multipart(
        "fw1",
        part("text/plain; charset=utf-8", enc("Is this mail genuine? We paid last month.\n")),
        part("message/rfc822", _inner, "8bit", "Content-Disposition: inline"),
    ),
    content_type='multipart/mixed; boundary="fw1"',
    encoding="7bit",
)

CORPUS["fa_windows1256.eml"] = mail(
    h("مشکل اینترنت"),
    enc(
        "سلام،\nاینترنت من از دیروز قطع است. لطفا کمک کنید.\n\nبا احترام،\nعلی رضایی\n\n"
        "در تاریخ جمعه 31 مه 2024، پشتیبانی <support@helpdesk.example> نوشت:\n"
        "> لطفا مودم را خاموش کنید.\n".replace("ی", "ي"),  # Windows-1256 has the Arabic yeh only
        "cp1256",
    ),
    content_type="text/plain; charset=windows-1256",
    sender="ali@example.ir",
)

CORPUS["fa_utf8_zwnj.eml"] = mail(
    h("درخواست بازپرداخت"),
    b64(
        enc(
            "سلام\nمی\u200cخواهم اشتراكم را لغو كنم و پول را پس بگيرم.\n\n"
            "از: پشتیبانی <support@helpdesk.example>\nارسال شده: جمعه ۳۱ مه ۲۰۲۴\n"
            "به: مریم\nموضوع: اشتراک\n\nاشتراک شما تمدید شد.\n"
        )
    ),
    encoding="base64",
    sender="=?utf-8?b?2YXYsduM2YU=?= <maryam@example.ir>",
)

CORPUS["ru_koi8r.eml"] = mail(
    h("Не работает почта", "koi8-r"),
    qp(
        "Добрый день!\nПочта не отправляется, ошибка 550.\n\nС уважением,\nИван Петров\n\n"
        "31.05.2024 16:02, Служба поддержки написал(а):\n> Проверьте настройки SMTP.\n",
        "koi8-r",
    ),
    content_type="text/plain; charset=KOI8-R",
    encoding="quoted-printable",
    sender="=?koi8-r?b?6dfBzg==?= <ivan@example.ru>",
)

CORPUS["el_iso88597.eml"] = mail(
    h("Πρόβλημα με τον λογαριασμό", "iso-8859-7"),
    enc(
        "Καλησπέρα,\nΔεν μπορώ να συνδεθώ στον λογαριασμό μου.\n\nΜε εκτίμηση,\nΓιώργος\n\n"
        "Στις Παρ, 31 Μαΐ 2024 στις 4:02 μ.μ., ο/η Υποστήριξη <support@helpdesk.example> έγραψε:\n"
        "> Δοκιμάστε ξανά.\n",
        "iso-8859-7",
    ),
    content_type="text/plain; charset=iso-8859-7",
    sender="giorgos@example.gr",
)

CORPUS["mislabelled_cp1251.eml"] = mail(
    "Re: zakaz",
    enc("Здравствуйте, заказ номер 5531 до сих пор не доставлен. Когда его привезут?\n", "cp1251"),
    content_type="text/plain; charset=iso-8859-1",
    sender="olga@example.ru",
)

CORPUS["no_charset.eml"] = mail(
    "Password reset",
    enc("Το email επαναφοράς κωδικού δεν έρχεται ποτέ.\n"),
    content_type="text/plain",
    sender="maria@example.gr",
)

CORPUS["quoted_printable.eml"] = mail(
    "Connexion impossible",
    qp(
        "Bonjour, je n’arrive plus à me connecter depuis la mise à jour de l’application "
        "mobile, le message « accès refusé » s’affiche à chaque tentative.\n",
        "utf-8",
    ),
    encoding="quoted-printable",
    sender="claire@example.fr",
)

CORPUS["base64_body.eml"] = mail(
    "Lieferung fehlt",
    b64(enc("Guten Tag, die Lieferung für Bestellung 881 ist nicht angekommen. Grüße aus Köln\n")),
    encoding="base64",
    sender="jens@example.de",
)

CORPUS["rfc2047_subject_filename.eml"] = mail(
    "=?UTF-8?B?0KHRh9C10YIg0L3QsCDQvtC/0LvQsNGC0YM=?= =?ISO-8859-7?Q?_=E3=E9=E1_=F4=EF?=",
    multipart(
        "m2047",
        part("text/plain; charset=utf-8", enc("Счёт во вложении.\n")),
        part(
            "application/pdf",
            b64(_PDF),
            "base64",
            'Content-Disposition: attachment; filename="=?UTF-8?B?0YHRh9C10YIucGRm?="',
        ),
        part(
            "text/csv",
            enc("a,b\n1,2\n"),
            "8bit",
            "Content-Disposition: attachment; filename*=UTF-8''%CE%BB%CE%AF%CF%83%CF%84%CE%B1.csv",
        ),
    ),
    content_type='multipart/mixed; boundary="m2047"',
    encoding="7bit",
    sender="ivan@example.ru",
)

CORPUS["ooo_auto_submitted.eml"] = mail(
    "Out of Office: Re: Your ticket",
    enc("I am out of the office until 10 June.\n"),
    extra=(("Auto-Submitted", "auto-replied"),),
)

CORPUS["exchange_auto_reply.eml"] = mail(
    "Automatic reply: Your ticket 1234",
    enc("I am on leave.\n"),
    extra=(("X-Auto-Response-Suppress", "All"), ("Thread-Topic", "Your ticket 1234")),
    sender="Dmitri <dmitri@corp.example>",
)

CORPUS["greek_auto_subject.eml"] = mail(
    h("Αυτόματη απάντηση: Το αίτημά σας"),
    enc("Λείπω από το γραφείο.\n"),
    sender="nikos@example.gr",
)

CORPUS["dsn_bounce.eml"] = mail(
    "Undelivered Mail Returned to Sender",
    multipart(
        "dsn1",
        part("text/plain; charset=us-ascii", enc("This is the mail system. Delivery failed.\n")),
        part(
            "message/delivery-status",
            enc(
                "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; gone@example.com\n"
                "Action: failed\nStatus: 5.1.1\n"
            ),
            "7bit",
        ),
    ),
    content_type='multipart/report; report-type=delivery-status; boundary="dsn1"',
    encoding="7bit",
    sender="MAILER-DAEMON@mx.example.com",
    extra=(("Return-Path", "<>"), ("Auto-Submitted", "auto-replied")),
)

CORPUS["mailer_daemon_null_path.eml"] = mail(
    "Delivery failure",
    enc("Your message could not be delivered.\n"),
    sender="Mail Delivery System <postmaster@mx.example.com>",
    extra=(("Return-Path", "<>"),),
)

CORPUS["loop.eml"] = mail(
    "Re: Ticket 1234 updated",
    enc("Your ticket was updated.\n"),
    extra=(("X-Helpdesk-Loop", "helpdesk.example"),),
)

CORPUS["oversize_attachment.eml"] = mail(
    "Log file",
    multipart(
        "big1",
        part("text/plain; charset=utf-8", enc("The log of the crash is attached.\n")),
        part(
            "text/plain; charset=utf-8",
            enc("x" * 3000 + "\n"),
            "8bit",
            'Content-Disposition: attachment; filename="crash.log"',
        ),
        part("image/png", b64(_PNG), "base64", 'Content-Disposition: attachment; filename="a.png"'),
    ),
    content_type='multipart/mixed; boundary="big1"',
    encoding="7bit",
)

CORPUS["empty.eml"] = mail("", b"", sender="ann.smith@example.com")

CORPUS["no_from.eml"] = (
    headers(("To", "support@helpdesk.example"), ("Subject", "Hello"), ("Date", DATE))
    + b"\r\n"
    + enc("Who am I?\n")
)

CORPUS["garbage.eml"] = random.Random(5322).randbytes(3000)


def main() -> None:
    for name, data in CORPUS.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
