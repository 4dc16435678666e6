"""Where the tests' broker and database come from: the local stack, testcontainers, or given URLs.

`HELPDESK_TEST_BACKEND` picks one: `local` (default: Tansu + SecantusDB started here),
`docker` (Apache Kafka and MongoDB through testcontainers), or `external`
(`HELPDESK_KAFKA__BOOTSTRAP_SERVERS` and `HELPDESK_MONGO__URL` as given).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from devstack.stack import LocalStack, StackEndpoints, free_port

KAFKA_IMAGE = os.environ.get("HELPDESK_TEST_KAFKA_IMAGE", "apache/kafka:3.9.1")
MONGO_IMAGE = os.environ.get("HELPDESK_TEST_MONGO_IMAGE", "mongo:8.0")


@contextmanager
def _local() -> Iterator[StackEndpoints]:
    with LocalStack() as endpoints:
        yield endpoints


@contextmanager
def _docker() -> Iterator[StackEndpoints]:
    """Apache Kafka in KRaft mode and MongoDB, in containers (needs a Docker engine)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.mongodb import MongoDbContainer

    # apache/kafka must advertise the host port clients use, so that port is fixed up front.
    port = free_port()
    kafka = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
    )
    with kafka, MongoDbContainer(MONGO_IMAGE) as mongo:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        yield StackEndpoints(f"127.0.0.1:{port}", mongo.get_connection_url())


@contextmanager
def _external() -> Iterator[StackEndpoints]:
    try:
        yield StackEndpoints(
            os.environ["HELPDESK_KAFKA__BOOTSTRAP_SERVERS"], os.environ["HELPDESK_MONGO__URL"]
        )
    except KeyError as exc:
        raise RuntimeError(f"HELPDESK_TEST_BACKEND=external needs {exc.args[0]} set") from exc


BACKENDS = {"local": _local, "docker": _docker, "external": _external}


def test_backend() -> Iterator[StackEndpoints]:
    name = os.environ.get("HELPDESK_TEST_BACKEND", "local")
    if name not in BACKENDS:
        raise RuntimeError(f"HELPDESK_TEST_BACKEND must be one of {sorted(BACKENDS)}, not {name!r}")
    with BACKENDS[name]() as endpoints:
        yield endpoints
