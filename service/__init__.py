"""The accounts service: connected accounts of every tenant, over REST and as Kafka events."""

__version__ = "0.1.0"
