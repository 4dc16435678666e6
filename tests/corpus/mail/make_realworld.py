"""Writes the .eml files of mail other software sends that we once refused or garbled: senders
RFC 5322 allows, header blocks the standard parser stops early on, raw 8-bit headers, East Asian
charsets, short texts in a legacy charset, attached messages and webmail forwards.

Run once from the repository root: python tests/corpus/mail/make_realworld.py
"""

from __future__ import annotations

from pathlib import Path

from make_corpus import DATE, crlf, enc, h, headers, mail, multipart, part

HERE = Path(__file__).parent
TO = ("To", "Support <support@helpdesk.example>")
CORPUS: dict[str, bytes] = {}


def raw_head(*lines: bytes) -> bytes:
    """Header lines written byte for byte (8-bit, broken folding) as some software sends them."""
    return b"".join(line + b"\r\n" for line in lines)


# -- Senders RFC 5322 allows ------------------------------------------------------------------
CORPUS["sender_quoted_local_part.eml"] = mail(
    "Order 1182",
    enc("My order 1182 has not arrived.\n"),
    sender='"Smith, John" <"john smith"@example.com>',
)
CORPUS["sender_trailing_dot.eml"] = mail(
    "Login fails", enc("I cannot log in since Monday.\n"), sender="Ann Lee <Ann.Lee@Example.COM.>"
)
CORPUS["sender_name_without_brackets.eml"] = mail(
    "Invoice copy",
    enc("Please send me a copy of the invoice.\n"),
    sender="Ann Lee ann.lee@example.com",
)
CORPUS["sender_reply_to_only.eml"] = (
    headers(
        ("From", "ACME web form"),
        ("Reply-To", "Maria Pappas <maria@example.gr>"),
        TO,
        ("Subject", "Callback request"),
        ("Date", DATE),
        ("Content-Type", "text/plain; charset=utf-8"),
    )
    + b"\r\n"
    + enc("Please call me back about my contract.\n")
)

# -- Header blocks the standard parser stops early on -----------------------------------------
_BODY = enc("The printer on floor 2 is offline again.\n")
CORPUS["headers_after_mbox_line.eml"] = (
    b"\r\nFrom ann.smith@example.com Mon Jun  3 10:15:00 2024\r\n"
    + headers(("From", "Ann Smith <ann.smith@example.com>"), TO, ("Subject", "Printer offline"))
    + b"\r\n"
    + _BODY
)
CORPUS["headers_unindented_continuation.eml"] = (
    raw_head(
        b"Received: from mx.example.com by mx.helpdesk.example; Mon, 03 Jun 2024 10:15:00",
        b"+0300 (a continuation line that lost its leading blank)",
        b"From : Ann Smith <ann.smith@example.com>",
        b"To: Support <support@helpdesk.example>",
        b"Subject: Printer offline",
    )
    + b"\r\n"
    + _BODY
)

# -- Raw 8-bit bytes in headers ---------------------------------------------------------------
CORPUS["raw_8bit_headers.eml"] = (
    raw_head(
        b"From: " + "Иван Петров".encode("cp1251") + b" <ivan@example.ru>",
        b"To: support@helpdesk.example",
        b"Subject: " + "Счёт на оплату не пришёл".encode("cp1251"),
        b"Date: " + DATE.encode(),
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=windows-1251",
        b"Content-Transfer-Encoding: 8bit",
    )
    + b"\r\n"
    + enc("Счёт за июнь так и не пришёл на почту.\n", "cp1251")
)
CORPUS["raw_8bit_subject_not_declared_charset.eml"] = (
    raw_head(
        b"From: ali@example.ir",
        b"To: support@helpdesk.example",
        # The body says UTF-8; the subject's bytes are Windows-1256.
        b"Subject: " + "مشكل پرداخت".encode("cp1256"),
        b"Content-Type: text/plain; charset=utf-8",
    )
    + b"\r\n"
    + enc("پرداخت من انجام نشد.\n")
)

# -- East Asian charsets ----------------------------------------------------------------------
CORPUS["iso2022jp_unlabelled.eml"] = (
    raw_head(
        b"From: Taro Yamada <taro@example.jp>",
        b"To: support@helpdesk.example",
        b"Subject: " + "請求書について".encode("iso2022_jp"),
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain",
    )
    + b"\r\n"
    + crlf("請求書がまだ届いていません。確認をお願いします。\n").encode("iso2022_jp")
)
CORPUS["gbk_labelled_gb2312.eml"] = mail(
    "Account",
    # 曌 and 镕 exist in GBK, not in GB2312: a strict GB2312 reading fails on them.
    enc("我的账户无法登录，请帮忙检查。朱镕基曌\n", "gbk"),
    content_type="text/plain; charset=gb2312",
    sender="li.wei@example.cn",
)

# -- Short texts in a legacy charset, no label ------------------------------------------------
for name, text, codec, sender in (
    ("short_cp1251_unlabelled.eml", "Не работает", "cp1251", "olga@example.ru"),
    ("short_koi8r_unlabelled.eml", "Нет связи", "koi8-r", "oleg@example.ru"),
    ("short_latin1_unlabelled.eml", "Très urgent, merci", "latin-1", "claire@example.fr"),
):
    CORPUS[name] = mail("Help", enc(text + "\n", codec), content_type="text/plain", sender=sender)

# -- A forwarded message attached, not inline ---------------------------------------------------
_attached = (
    headers(
        ("From", "Carol Vendor <carol@vendor.example>"),
        ("To", "ann.smith@example.com"),
        ("Subject", "Your licence expires"),
        ("Date", DATE),
        ("Content-Type", "text/plain; charset=utf-8"),
    )
    + b"\r\n"
    + enc("Your licence expires on 30 June.\n")
)
CORPUS["attached_rfc822.eml"] = mail(
    "Licence mail attached",
    multipart(
        "at1",
        part("text/plain; charset=utf-8", enc("The mail from our vendor is attached.\n")),
        part("message/rfc822", _attached, "8bit", "Content-Disposition: attachment"),
    ),
    content_type='multipart/mixed; boundary="at1"',
    encoding="7bit",
)

# -- Webmail forwards -------------------------------------------------------------------------
CORPUS["forward_outlook.eml"] = mail(
    "FW: Invoice 4711",
    enc(
        "Please look at the mail below, the amount is wrong.\n\nBest regards,\nBob\n\n"
        "________________________________\nFrom: Billing <billing@vendor.example>\n"
        "Sent: Friday, May 31, 2024 4:02 PM\nTo: Bob Jones <bob@example.org>\n"
        "Subject: Invoice 4711\n\nYour invoice 4711 amounts to 1,200 EUR.\n\n"
        "On Thu, 30 May 2024, Bob Jones <bob@example.org> wrote:\n> Where is the invoice?\n"
    ),
    sender="Bob Jones <bob@example.org>",
)
CORPUS["forward_outlook_ru.eml"] = mail(
    h("FW: Счёт 4711"),
    enc(
        "Посмотрите, пожалуйста, письмо ниже.\n\n"
        "От: Бухгалтерия <billing@vendor.example>\nОтправлено: 31 мая 2024 г. 16:02\n"
        "Кому: Иван\nТема: Счёт 4711\n\nСумма по счёту 4711 составляет 1200 евро.\n"
    ),
    sender="ivan@example.ru",
)
CORPUS["forward_gmail_el.eml"] = mail(
    h("Fwd: Τιμολόγιο"),
    enc(
        "Δείτε το παρακάτω μήνυμα.\n\n---------- Προωθημένο μήνυμα ---------\n"
        "Από: Λογιστήριο <billing@vendor.example>\nΗμερομηνία: Παρ, 31 Μαΐ 2024\n"
        "Θέμα: Τιμολόγιο\nΠρος: Νίκος\n\nΤο τιμολόγιο είναι 1200 ευρώ.\n"
    ),
    sender="nikos@example.gr",
)
CORPUS["forward_gmail_fa.eml"] = mail(
    h("Fwd: صورتحساب"),
    enc(
        "لطفا پیام زیر را ببینید.\n\n---------- پیام هدایت\u200cشده ---------\n"
        "از: حسابداری <billing@vendor.example>\nتاریخ: جمعه ۳۱ مه ۲۰۲۴\n"
        "موضوع: صورتحساب\nبه: سارا\n\nمبلغ صورتحساب ۱۲۰۰ یورو است.\n"
    ),
    sender="sara@example.ir",
)


def main() -> None:
    for name, data in CORPUS.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
