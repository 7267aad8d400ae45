"""Local, Docker-free launchers for the PostgreSQL and Kafka servers the service needs."""

from devtools.kafka import LocalKafka
from devtools.postgres import LocalPostgres

__all__ = ["LocalKafka", "LocalPostgres"]
