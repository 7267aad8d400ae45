"""What the local Kafka broker is configured with: its logging, its cluster id, its heap."""

from __future__ import annotations

import base64
import re
import uuid

LOG4J2_PROPERTIES = """status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def cluster_id() -> str:
    """Return a fresh cluster id in Kafka's format (base64url UUID without padding)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka refuses ids that start with "-": they look like command-line flags.
        if not text.startswith("-"):
            return text


def min_heap(heap: str) -> str:
    """Return the initial heap size: 128m, or the maximum when that is smaller."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", heap)
    if match is None:
        return heap
    factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
    return "128m" if int(match.group(1)) * factor >= 128 << 20 else heap
