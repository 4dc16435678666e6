"""The short chaos run: 1,000 contacts on three channels through every service, agents replying
and resolving through intake's API, while each service in turn is SIGKILLed and restarted and
the database is restarted on its files; nothing is lost or duplicated, every breach goes out
once by id and reaches email and the team's webhook, and every consumer group catches up.

The broker stays in memory here: on its S3 storage (the full `make chaos`) it takes a few
records a second once it holds a few thousand, far too slow for the suite.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devstack.chaos import Options, chaos
from devstack.pipeline import SERVICES

pytestmark = pytest.mark.e2e

CONTACTS = 1000


async def test_the_desk_loses_and_doubles_nothing_while_its_parts_fail(tmp_path: Path) -> None:
    started = time.monotonic()
    options = Options(
        contacts=CONTACTS,
        rate=8.0,
        faults="short",
        settle_timeout=240.0,
        log_dir=tmp_path / "logs",
        broker_on_disk=False,
    )
    report = await chaos(options)
    table = report.table()
    print(table, f"\n{time.monotonic() - started:.0f}s in all")

    assert report.failures == [], table
    faults = [name for name, _, _ in report.figures["faults"]]
    assert faults[-1] == "restart database"
    assert {f"kill {name}" for name in SERVICES} <= set(faults)
    rows = {what.strip(): value for what, value, _ in report.rows}
    assert rows["contacts sent"] == str(CONTACTS)
    # Work of every kind went through: tickets opened and joined, agents acted, breaches told.
    assert int(rows["tickets opened"]) > CONTACTS * 0.8
    assert int(rows["replies and follow-ups joined"]) > 0
    assert int(rows["agent replies accepted (202)"]) > 0
    assert int(rows["agent resolutions accepted (202)"]) > 0
    assert report.figures["billing"] > 0
    assert int(rows["sla.breached events"]) > 0
    assert int(rows["resolution breaches told by webhook"]) > 0
    assert report.figures["lag_zero_after_last_restart"] is not None
