"""`python -m services.intake.portal_link <email>`: print a one-time customer portal sign-in
link for a known customer (for operators and the local demo); mails nothing."""

from __future__ import annotations

import argparse
import asyncio
from email.message import EmailMessage

from services.intake.config import load_rules
from services.intake.portal import Portal
from services.intake.portal_store import MongoPortalStore
from services.intake.settings import IntakeSettings
from services.intake.store import MongoIntakeStore
from shared.directory import load_directory
from shared.events import ContactReceived
from shared.mongo import make_mongo_client

#: Where intake is reached on the local stack, when `HELPDESK_PUBLIC_URL` is not set.
LOCAL_URL = "http://127.0.0.1:8001"


async def _nowhere(contact: ContactReceived) -> None:
    raise RuntimeError("the link command submits no contact")


async def _no_mail(message: EmailMessage) -> None:
    raise RuntimeError("the link command mails nothing")


async def link(email: str, settings: IntakeSettings, base_url: str | None = None) -> str:
    """A sign-in link for the customer who holds `email`; SystemExit if nobody does."""
    mongo = make_mongo_client(settings.mongo)
    try:
        db = mongo[settings.database_name]
        portal = Portal(
            MongoIntakeStore(db),
            MongoPortalStore(db),
            settings,
            load_rules(settings.config_dir),
            load_directory(settings.config_dir),
            _nowhere,
            _no_mail,
        )
        customer = await portal.customer_by_email(email)
        if customer is None:
            raise SystemExit(f"error: no customer has the address {email!r}")
        base = (base_url or settings.public_url or LOCAL_URL).rstrip("/")
        return await portal.link_for(customer, email, base)
    finally:
        await mongo.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.intake.portal_link", description=__doc__
    )
    parser.add_argument("email", help="An address the desk knows the customer by.")
    parser.add_argument(
        "--base-url",
        help=f"Where the browser reaches intake (default: HELPDESK_PUBLIC_URL, else {LOCAL_URL}).",
    )
    args = parser.parse_args(argv)
    print(asyncio.run(link(args.email, IntakeSettings(), args.base_url)))


if __name__ == "__main__":
    main()
