"""`python -m bench.notifier_server`: the notifier for `make bench-notifier`, in its own process.

The real service (`build_app`) over a synthetic directory of one team, plus one bench-only
route, `POST /bench/broadcast`: the bare `PushHub.broadcast` of a given board row to the same
people the board would push it to, the baseline the benchmark measures the service against.
Settings come from `HELPDESK_*` variables as for `python -m services.notifier`; the benchmark
launches it with `spawn` and the settings of `server_env`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from fastapi import Depends

from devstack.pipeline import ROOT, topic_env
from devstack.stack import StackEndpoints
from services.notifier.app import build_app
from services.notifier.domain.views import audience
from services.notifier.push import PushHub, message
from shared.directory import Agent, Directory, Person, Team
from shared.runtime import Service, run

TEAM = "bench"
MANAGER = "bench-manager"
SECRET = "bench-notifier-agent-token-secret-0123456789"


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
    """Add the baseline: one board row, broadcast as is, to the people who see that row (a
    public route, like the service's health checks: the bench's own, on its own machine)."""
    assert service.access is not None, "build_app seals the service with its access rules"
    public = [Depends(service.access.public)]

    @service.http.post(
        "/bench/broadcast", tags=["bench"], summary="Bare hub broadcast.", dependencies=public
    )
    async def broadcast(row: dict[str, Any]) -> dict[str, int]:
        people = audience(row, directory)
        reached = await hub.broadcast(list(people), message("ticket", row))
        return {"people": len(people), "reached": sum(reached.values())}

    return service


def bench_config(folder: Path) -> Path:
    """The shipped rules, without the on-call people and working hours of the real teams,
    which the synthetic directory does not have."""
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    rules = yaml.safe_load((folder / "notifier.yaml").read_text())
    rules["on_call"] = {"*": rules["on_call"]["*"]}
    rules["working_hours"] = {"default_calendar": None, "people": {}}
    # Case (b)'s chat tool listens on this machine, which webhooks may not reach unless allowed.
    rules["webhooks"] = {"allow_networks": ["127.0.0.0/8"]}
    (folder / "notifier.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True))
    return folder


def server_env(suffix: str, config_dir: Path, smtp_port: int) -> dict[str, str]:
    return {
        **topic_env(suffix),
        "HELPDESK_MONGO__DATABASE_PREFIX": f"bench{suffix}_",
        "HELPDESK_CONFIG_DIR": str(config_dir),
        # The bench's own machine: a service may start with a bench secret.
        "HELPDESK_ENVIRONMENT": "local",
        "HELPDESK_AGENT_TOKEN_SECRET": SECRET,
        # Readiness polls and baseline calls all come from this one address.
        "HELPDESK_PUBLIC_RATE_LIMIT": "100000/minute",
        "HELPDESK_SMTP_HOST": "127.0.0.1",
        "HELPDESK_SMTP_PORT": str(smtp_port),
        "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": "500",
        "HELPDESK_LOGGING__LEVEL": "WARNING",
        "HELPDESK_LOGGING__FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


def spawn(
    endpoints: StackEndpoints, env: dict[str, str], port: int, agents: int, log: Path
) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        # The child holds its own copy of the file descriptor.
        return subprocess.Popen(
            [sys.executable, "-m", "bench.notifier_server", "--agents", str(agents)],
            cwd=ROOT,
            env={**os.environ, **endpoints.env(), **env, "HELPDESK_HTTP_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(http: httpx.AsyncClient, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the notifier exited with {server.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/health/ready")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError("the notifier was not ready within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifier_server", description=__doc__)
    parser.add_argument("--agents", type=int, default=1_000, help="agents in the one team")
    args = parser.parse_args()
    directory = synthetic_team(args.agents)
    hub = PushHub()
    run(lambda: with_broadcast_route(build_app(directory=directory, hub=hub), hub, directory))


if __name__ == "__main__":
    main()
