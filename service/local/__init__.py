"""Local, Docker-free launchers for the PostgreSQL and Kafka servers the service needs."""

from service.local.kafka import LocalKafka
from service.local.postgres import LocalPostgres

__all__ = ["LocalKafka", "LocalPostgres"]
