"""Run the services as separate processes (`python -m services.<name>`) against one stack.

A service may run as more than one replica: `start_replica("router", "router-2")` starts another
process of the same service (the same consumer groups) under its own name, which `kill`,
`restart` and `stop` then take like any other.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

import httpx

from devstack.stack import StackEndpoints, free_port
from services.intake.auth import sign_request
from shared.agent_tokens import AgentTokens

if TYPE_CHECKING:
    from shared.settings import TopicSettings

#: The services a contact passes through, from intake to the agent's email and suggestions.
CONTACT_PATH = ("intake", "router", "sla", "notifier", "kb")
#: Every service: the contact path, and insights, which reads what all of them publish.
SERVICES = (*CONTACT_PATH, "insights")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None
    #: The service it runs (`services.<service>`): its name, unless it is a further replica.
    service: str = ""
    #: Names this process's own consumer groups (`HELPDESK_REPLICA_ID`): new for every process.
    replica_id: str = ""

    def __post_init__(self) -> None:
        self.service = self.service or self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Pipeline:
    """Start every service with the same settings; stop them all on exit."""

    endpoints: StackEndpoints
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    services: tuple[str, ...] = SERVICES
    #: Settings of one service only; `{url}` in a value is that service's own address.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    running: dict[str, RunningService] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, ready_timeout: float = 60.0) -> Pipeline:
        try:
            for name in self.services:
                self._spawn(name)
            self.wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, service: str | None = None) -> None:
        service = service or (self.running[name].service if name in self.running else name)
        port = free_port()
        replica_id = f"{name}-{secrets.token_hex(3)}"
        env = {
            **os.environ,
            **self.endpoints.env(),
            # The local stack: a service may start without secrets (none of them is reachable
            # from outside this machine).
            "HELPDESK_ENVIRONMENT": "local",
            # Random per process as by default, but known here: it names the process's groups.
            "HELPDESK_REPLICA_ID": replica_id,
            **self.env,
            **{
                key: value.replace("{url}", f"http://127.0.0.1:{port}")
                for key, value in self.service_env.get(service, {}).items()
            },
            "HELPDESK_HTTP_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
        out: IO[bytes] | int = subprocess.DEVNULL
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            out = open(log_path, "ab")
            self._logs.append(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.running[name] = RunningService(name, port, proc, log_path, service, replica_id)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.running)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    svc = self.running[name]
                    if svc.process.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited with {svc.process.returncode}; see {svc.log_path}"
                        )
                    try:
                        if client.get(f"{svc.url}/health/ready").status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f}s: {sorted(pending)}")
                time.sleep(0.1)

    def kill(self, *names: str) -> None:
        """SIGKILL one service or several at once, as a crash would: no batch finished, no
        offset committed."""
        processes = [self.running[name].process for name in names]
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=15)

    def start_replica(self, service: str, name: str, ready_timeout: float = 60.0) -> None:
        """Start a further replica of `service` (same settings, same consumer groups) as `name`,
        and wait until it answers as ready."""
        if name in self.running:
            raise ValueError(f"{name} is running already")
        self._spawn(name, service)
        self._wait_one(name, ready_timeout)

    def restart(self, name: str, ready_timeout: float = 60.0) -> None:
        """Start one service again (after `kill`) and wait until it answers as ready."""
        self._spawn(name)
        self._wait_one(name, ready_timeout)

    def _wait_one(self, name: str, ready_timeout: float) -> None:
        deadline = time.monotonic() + ready_timeout
        svc = self.running[name]
        with httpx.Client(timeout=2.0) as client:
            while True:
                if svc.process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {svc.process.returncode}")
                try:
                    if client.get(f"{svc.url}/health/ready").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {ready_timeout:.0f}s")
                time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        for svc in self.running.values():
            if svc.process.poll() is None:
                svc.process.terminate()
        for svc in self.running.values():
            try:
                svc.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                svc.process.kill()
                svc.process.wait()
        self.running.clear()
        for handle in self._logs:
            handle.close()
        self._logs.clear()

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class RunSecrets:
    """Keys made for one run: one signs agents' tokens, one per channel adapter signs contacts."""

    agent_token_secret: str
    adapter_secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls, adapters: tuple[str, ...] = ("demo",)) -> RunSecrets:
        # 36 random bytes give 48 URL-safe characters, above the 32 bytes HS256 needs.
        return cls(secrets.token_urlsafe(36), {a: secrets.token_urlsafe(32) for a in adapters})

    def env(self) -> dict[str, str]:
        """Intake's settings for these keys; with no adapters, contacts go unsigned."""
        env = {"HELPDESK_AGENT_TOKEN_SECRET": self.agent_token_secret}
        if self.adapter_secrets:
            env["HELPDESK_ADAPTER_SECRETS"] = json.dumps(self.adapter_secrets)
        return env

    def agent_token(self, agent_id: str, ttl: timedelta = timedelta(hours=1)) -> str:
        return AgentTokens(self.agent_token_secret).issue(agent_id, ttl=ttl, now=datetime.now(UTC))

    def signed(self, body: bytes, adapter: str = "demo") -> dict[str, str]:
        """The headers that make intake take `body` as sent by `adapter`, signed now."""
        return sign_request(self.adapter_secrets[adapter], body, int(time.time()), adapter=adapter)


def topic_env(suffix: str) -> dict[str, str]:
    """Settings that give a run its own topic names, so runs on one broker never mix."""
    from shared.settings import TopicSettings

    return {
        f"HELPDESK_TOPICS__{name.upper()}": f"{value}.{suffix}"
        for name, value in TopicSettings().model_dump().items()
    }


def run_topics(suffix: str) -> TopicSettings:
    """The topic names `topic_env(suffix)` gives a run, for a test that reads them."""
    from shared.settings import TopicSettings

    return TopicSettings(
        **{key.split("__")[1].lower(): value for key, value in topic_env(suffix).items()}
    )
