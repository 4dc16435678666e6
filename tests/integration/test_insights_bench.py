"""`make bench-insights`, short: a few hundred tickets through the same code path, so the
benchmark keeps working and its figures stay honest (every ticket folded into one fact)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from bench import insights
from devstack.stack import StackEndpoints

pytestmark = pytest.mark.integration


async def test_the_benchmark_folds_every_ticket_and_prints_each_figure(
    stack: StackEndpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(tickets=300, days=40, batch=1000, runs=1)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    for name in ("benchinsights_insights", "benchinsights_bare"):
        await client.drop_database(name)
    await insights.run(args, stack.mongo_url)
    facts = await client["benchinsights_insights"]["facts"].count_documents({})
    bare = await client["benchinsights_bare"]["facts"].count_documents({})
    await client.close()
    out = capsys.readouterr().out
    assert facts == bare == 300
    for figure in (
        "facts per second", "events per second", "monthly category report",
        "drill-down CSAT <= 2", "drill-down transferred 3+", "drill-down over 8 business h",
        "month's figures per week, team",
    ):  # fmt: skip
        assert figure in out, out
