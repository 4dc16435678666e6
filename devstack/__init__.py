"""The local stack: a real Kafka-protocol broker (Tansu) and MongoDB-protocol server (SecantusDB)."""

from devstack.stack import LocalStack, StackEndpoints, free_port

__all__ = ["LocalStack", "StackEndpoints", "free_port"]
