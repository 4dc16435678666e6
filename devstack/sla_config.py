"""Short SLA targets on a round-the-clock calendar, for demonstrations and tests."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_fast_sla(
    config_dir: Path,
    *,
    first_response: str,
    resolution: str,
    next_reply: str | None = None,
    warning_levels: tuple[int, ...] = (50, 75, 90),
) -> Path:
    """Write `sla.yaml` with one default policy on the 24x7 calendar (and `calendars.yaml`).

    Targets are ISO 8601 durations such as `PT20S`. Every ticket gets the same targets, so a
    run shows warnings and breaches within seconds whatever the hour or the day.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    # The calendars the policy names, and the people the service's routes know.
    for name in ("calendars.yaml", "teams.yaml"):
        if not (config_dir / name).exists():
            shutil.copy(ROOT / "config" / name, config_dir / name)
    targets = f"first_response: {first_response}, resolution: {resolution}"
    if next_reply is not None:
        targets += f", next_reply: {next_reply}"
    levels = ", ".join(str(level) for level in warning_levels)
    amber, red = warning_levels[-2:] if len(warning_levels) > 1 else warning_levels * 2
    (config_dir / "sla.yaml").write_text(
        f"warning_levels: [{levels}]\n"
        f"colours: {{amber: {amber}, red: {red}}}\n"
        f"default:\n  calendar: 24x7\n  targets: {{{targets}}}\n",
        encoding="utf-8",
    )
    return config_dir
