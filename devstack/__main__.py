"""`python -m devstack`: start the local broker and database, print their URLs; Ctrl-C stops."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from pathlib import Path

from devstack.stack import LocalStack
from shared.broker import ensure_topics
from shared.settings import KafkaSettings, TopicSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep Kafka and MongoDB data in this folder (default: in memory, gone at exit)",
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="write server logs here")
    parser.add_argument(
        "--env-file", type=Path, default=None, help="also write the settings to this file"
    )
    args = parser.parse_args()
    stack = LocalStack(data_dir=args.data_dir, log_dir=args.log_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with stack as endpoints:
        asyncio.run(
            ensure_topics(
                KafkaSettings(bootstrap_servers=endpoints.bootstrap_servers), TopicSettings()
            )
        )
        lines = [f"{k}={v}" for k, v in endpoints.env().items()]
        if args.env_file:
            args.env_file.write_text("\n".join(lines) + "\n")
        print("local stack is up; services reach it with:", *lines, sep="\n", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        print("stopping the local stack", flush=True)


if __name__ == "__main__":
    main()
