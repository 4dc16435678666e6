"""`python -m bench.notifier_server`: the notifier for `make bench-notifier`, in its own process.

The real service (`build_app`) over a synthetic directory of one team, plus one bench-only
route, `POST /bench/broadcast`: the bare `PushHub.broadcast` of a given board row to the same
people the board would push it to, the baseline the benchmark measures the service against.
Settings come from `HELPDESK_*` variables as for `python -m services.notifier`.
"""

from __future__ import annotations

import argparse
from typing import Any

from services.notifier.app import build_app
from services.notifier.board import audience
from services.notifier.push import PushHub, message
from shared.directory import Agent, Directory, Person, Team
from shared.runtime import Service, run

TEAM = "bench"
MANAGER = "bench-manager"


def agent_id(n: int) -> str:
    return f"bench-agent-{n:04d}"


def synthetic_team(agents: int, team: str = TEAM) -> Directory:
    """One team of `agents` agents and a manager, no lead: a queued row reaches all of them."""
    return Directory(
        teams=[
            Team(
                name=team,
                manager=Person(
                    person_id=MANAGER, name="Bench Manager", email="manager@bench.example"
                ),
                agents=[
                    Agent(
                        person_id=agent_id(n),
                        name=f"Bench Agent {n}",
                        email=f"agent{n}@bench.example",
                    )
                    for n in range(agents)
                ],
            )
        ]
    )


def with_broadcast_route(service: Service, hub: PushHub, directory: Directory) -> Service:
    """Add the baseline: one board row, broadcast as is, to the people who see that row."""

    @service.http.post("/bench/broadcast", tags=["bench"], summary="Bare hub broadcast.")
    async def broadcast(row: dict[str, Any]) -> dict[str, int]:
        people = audience(row, directory)
        reached = await hub.broadcast(list(people), message("ticket", row))
        return {"people": len(people), "reached": sum(reached.values())}

    return service


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifier_server", description=__doc__)
    parser.add_argument("--agents", type=int, default=1_000, help="agents in the one team")
    args = parser.parse_args()
    directory = synthetic_team(args.agents)
    hub = PushHub()
    run(lambda: with_broadcast_route(build_app(directory=directory, hub=hub), hub, directory))


if __name__ == "__main__":
    main()
