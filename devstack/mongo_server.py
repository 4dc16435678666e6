"""SecantusDB for the local stack, with the settings its command line does not pass on.

`python -m secantus` reads the expiry sweep's interval from its configuration file but starts
the server without it (the server then sweeps every 60 s), so the stack starts the server
itself: `python -m devstack.mongo_server --port 27017 --storage-path :memory:`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from secantus.server import SecantusDBServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.mongo_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-path", default=":memory:", help="a folder, or :memory:")
    parser.add_argument("--cache-size", default="6G", help="WiredTiger's cache, e.g. 6G")
    parser.add_argument(
        "--expiry-sweep-seconds",
        type=float,
        default=3600.0,
        help="how often documents TTL indexes let expire are deleted; 0 never",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = SecantusDBServer(
        host=args.host,
        port=args.port,
        storage_path=args.storage_path,
        # A single-node replica set, as `python -m secantus` starts it.
        replica_set_name="secantus",
        enable_test_commands=False,
        cache_size=args.cache_size,
        ttl_sweep_seconds=args.expiry_sweep_seconds,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.start()
    server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
