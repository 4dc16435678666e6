"""The one origin on the local stack: nginx with `deploy/gateway/helpdesk.conf.template`, the file
docker-compose.yml and the Kubernetes manifests serve, filled in with the local services'
addresses. `make gateway` unpacks Debian's nginx into the venv (nothing installed or started
system-wide); an nginx on PATH does as well.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import IO

from devstack.pipeline import ROOT, SERVICES
from devstack.stack import free_port

TEMPLATE = ROOT / "deploy" / "gateway" / "helpdesk.conf.template"

#: nginx as one foreground process under a folder of its own: no pid file, log or temporary
#: file anywhere else, so it runs without root beside anything the machine already has.
_MAIN = """\
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${prefix}/body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    include ${prefix}/helpdesk.conf;
}
"""


class GatewayMissing(RuntimeError):
    """No nginx to run: `make gateway` puts one in the venv."""


def nginx_binary() -> Path:
    beside = Path(sys.executable).parent / "nginx"
    if beside.exists():
        return beside
    found = shutil.which("nginx")
    if found is None:
        raise GatewayMissing("no nginx: run `make gateway` (unpacks Debian's nginx into .venv)")
    return Path(found)


def render(upstreams: Mapping[str, str], listen: str) -> str:
    """The template with each service's address (`http://host:port`) and the listen address."""
    missing = sorted(set(SERVICES) - set(upstreams))
    if missing:
        raise ValueError(f"no address for {missing}")
    values = {f"{name.upper()}_UPSTREAM": url.rstrip("/") for name, url in upstreams.items()}
    # Only these names are filled: nginx's own $variables stay as they are.
    return Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        values, GATEWAY_LISTEN=listen
    )


@dataclass
class Gateway:
    """nginx in front of the local services on 127.0.0.1 and a free port (or `port`)."""

    upstreams: Mapping[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _folder: Path | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Gateway:
        folder = Path(tempfile.mkdtemp(prefix="helpdesk-gateway-"))
        self._folder = folder
        (folder / "helpdesk.conf").write_text(
            render(self.upstreams, f"127.0.0.1:{self.port}"), encoding="utf-8"
        )
        (folder / "nginx.conf").write_text(
            Template(_MAIN).substitute(prefix=folder), encoding="utf-8"
        )
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = out = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(nginx_binary()), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
             "stderr"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the gateway did not start (log: {self.log_path})")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # nginx's graceful stop: open connections (live pushes) are closed, not waited on.
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


#: The services that write links to themselves into mail and pages.
LINKING = ("intake", "notifier", "kb", "insights")


def behind(port: int) -> dict[str, dict[str, str]]:
    """The public URL of each service that writes links (into mail, chat messages, pages) on a
    gateway at `port`: the gateway's origin and the service's prefix."""
    return {name: {"HELPDESK_PUBLIC_URL": f"http://127.0.0.1:{port}/{name}"} for name in LINKING}
