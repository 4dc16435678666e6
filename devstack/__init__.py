"""The local stack: a Kafka-protocol broker (Tansu) and a MongoDB-protocol server (SecantusDB)."""

from devstack.stack import LocalStack, StackEndpoints, free_port

__all__ = ["LocalStack", "StackEndpoints", "free_port"]
