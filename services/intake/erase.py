"""`python -m services.intake.erase <customer_id> --by <manager_id>`: erase a customer's personal
data in every service (the same as `POST /customers/{id}/erase`): prints what was announced."""

from __future__ import annotations

import argparse
import asyncio
import json

from services.intake.service import Erasing, UnknownCustomer
from services.intake.settings import IntakeSettings
from services.intake.store import MongoIntakeStore
from shared.access import person_of
from shared.broker import make_broker
from shared.directory import load_directory
from shared.events import CustomerEvent
from shared.mongo import make_mongo_client
from shared.publishing import Publisher


async def erase(customer_id: str, manager_id: str, settings: IntakeSettings) -> dict[str, object]:
    manager = person_of(load_directory(settings.config_dir), manager_id)
    if manager is None or not manager.manages:
        raise SystemExit(f"error: {manager_id!r} is not a manager in teams.yaml")
    broker = make_broker(settings)
    mongo = make_mongo_client(settings.mongo)
    customers = Publisher(
        broker, settings.topics.customers, CustomerEvent, title="intake.customers"
    )
    await broker.connect()
    try:
        store = MongoIntakeStore(mongo[settings.database_name])
        erasure = await Erasing(store, customers).erase(customer_id, manager_id)
    except UnknownCustomer as exc:
        raise SystemExit(f"error: {exc}") from exc
    finally:
        await broker.stop()
        await mongo.close()
    return {
        "customer_id": erasure.event.customer_id,
        "event_id": str(erasure.event.event_id),
        "records": erasure.records,
        "tickets": erasure.tickets,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.intake.erase", description=__doc__)
    parser.add_argument("customer_id")
    parser.add_argument("--by", required=True, help="The manager asking (person_id).")
    args = parser.parse_args(argv)
    result = asyncio.run(erase(args.customer_id, args.by, IntakeSettings()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
