"""Where the tests' broker and database come from: the local stack, testcontainers, or given URLs.

`HELPDESK_TEST_BACKEND` picks one: `local` (default: Tansu + SecantusDB started here),
`docker` (Apache Kafka and MongoDB through testcontainers), or `external`
(`HELPDESK_KAFKA__BOOTSTRAP_SERVERS` and `HELPDESK_MONGO__URL` as given).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from devstack.stack import LocalStack, StackEndpoints

KAFKA_IMAGE = os.environ.get("HELPDESK_TEST_KAFKA_IMAGE", "apache/kafka:3.9.1")
MONGO_IMAGE = os.environ.get("HELPDESK_TEST_MONGO_IMAGE", "mongo:8.0")


@contextmanager
def _local() -> Iterator[StackEndpoints]:
    with LocalStack() as endpoints:
        yield endpoints


@contextmanager
def _docker() -> Iterator[StackEndpoints]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka, MongoDbContainer(MONGO_IMAGE) as mongo:
        yield StackEndpoints(kafka.get_bootstrap_server(), mongo.get_connection_url())


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
