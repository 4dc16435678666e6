"""`python -m services.kb.report queries|no-results|articles`: the knowledge base's analytics
reports in the terminal, read from its MongoDB database (the same as `GET /reports/...`)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from pydantic import BaseModel

from services.kb.settings import KbSettings
from services.kb.store import MongoKbStore
from shared.clock import SystemClock
from shared.mongo import make_mongo_client


def table(rows: list[BaseModel]) -> str:
    """Rows as aligned columns under their field names."""
    if not rows:
        return "(nothing yet)"
    names = list(type(rows[0]).model_fields)
    cells = [[str(getattr(row, name)) for name in names] for row in rows]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


async def report(kind: str, days: int, limit: int, settings: KbSettings) -> str:
    mongo = make_mongo_client(settings.mongo)
    try:
        store = MongoKbStore(mongo[settings.database_name])
        since = SystemClock().now() - timedelta(days=days)
        rows: list[BaseModel]
        if kind == "articles":
            rows = list(await store.article_rows(limit=limit))
        else:
            only_empty = kind == "no-results"
            rows = list(await store.top_queries(since, limit=limit, only_empty=only_empty))
        return table(rows)
    finally:
        await mongo.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.kb.report", description=__doc__)
    parser.add_argument(
        "kind",
        choices=["queries", "no-results", "articles"],
        help="top queries, searches that found nothing, or per-article use",
    )
    parser.add_argument("--days", type=int, default=30, help="look back this many days")
    parser.add_argument("--limit", type=int, default=20, help="rows to show")
    args = parser.parse_args(argv)
    print(asyncio.run(report(args.kind, args.days, args.limit, KbSettings())))


if __name__ == "__main__":
    main()
