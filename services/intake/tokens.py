"""`python -m services.intake.tokens <person_id> [--days N]`: print a person's bearer token.

The token is signed with `HELPDESK_AGENT_TOKEN_SECRET`; only people in `config/teams.yaml`
(agents, leads, managers, operators) get one, and it expires.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from services.intake.settings import IntakeSettings
from shared.access import person_of
from shared.agent_tokens import AgentTokens
from shared.clock import SystemClock
from shared.config import ConfigError
from shared.directory import Directory, load_directory


class TokenSettings(Protocol):
    """The part of IntakeSettings that issuing tokens reads."""

    @property
    def config_dir(self) -> Path: ...
    @property
    def agent_token_secret(self) -> SecretStr | None: ...
    @property
    def agent_token_days(self) -> int: ...


class UnknownAgent(ValueError):
    """The id names no agent in the directory, so no token is issued for it."""


def issue_agent_token(
    settings: TokenSettings,
    agent_id: str,
    *,
    days: int | None = None,
    now: datetime | None = None,
    directory: Directory | None = None,
) -> str:
    """A token for `agent_id`, valid `days` (default from settings) from `now`."""
    directory = directory or load_directory(settings.config_dir)
    # Agents, leads, managers and operators: everybody the access model knows.
    if person_of(directory, agent_id) is None:
        raise UnknownAgent(f"no one called {agent_id!r} in {settings.config_dir / 'teams.yaml'}")
    valid_days = settings.agent_token_days if days is None else days
    if valid_days < 1:
        raise ValueError("a token must be valid for at least one day")
    if settings.agent_token_secret is None:
        raise ValueError("no agent token secret: set HELPDESK_AGENT_TOKEN_SECRET (32+ bytes)")
    tokens = AgentTokens(settings.agent_token_secret.get_secret_value())
    return tokens.issue(agent_id, ttl=timedelta(days=valid_days), now=now or SystemClock().now())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.intake.tokens", description="Print an agent's bearer token."
    )
    parser.add_argument("agent_id", help="The agent's person_id in config/teams.yaml.")
    parser.add_argument("--days", type=int, default=None, help="Validity (default from settings).")
    args = parser.parse_args(argv)
    settings: TokenSettings = IntakeSettings()
    try:
        token = issue_agent_token(settings, args.agent_id, days=args.days)
    except (ValueError, ConfigError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    # The token is the command's output, for a shell to capture.
    sys.stdout.write(token + "\n")


if __name__ == "__main__":
    main()
