"""Rate-limited logging for retry loops: a repeated line appears once per interval, with a count."""

from __future__ import annotations

import logging
import time

# The Kafka client's loggers; aiokafka logs every failed reconnect, many times a second when a broker
# is gone, from these modules.
KAFKA_LOGGERS = (
    "aiokafka",
    "aiokafka.client",
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.producer.producer",
    "aiokafka.producer.sender",
    "aiokafka.producer.transaction_manager",
    "aiokafka.admin.client",
)


class Throttle(logging.Filter):
    """Passes each message template (per logger) at most once per `interval` seconds.

    The line that passes after a quiet spell says how many like it were held back meanwhile.
    """

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self._interval = interval
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        passed_at, held = self._seen.get(key, (-float("inf"), 0))
        if now - passed_at < self._interval:
            self._seen[key] = (passed_at, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - passed_at:.0f} s]"
        return True


_installed: list[Throttle] = []


def throttle_kafka_logs(interval: float = 60.0) -> None:
    """Rate-limit the Kafka client's log lines in this process (once; later calls do nothing)."""
    if _installed:
        return
    throttle = Throttle(interval)
    _installed.append(throttle)
    for name in KAFKA_LOGGERS:
        logging.getLogger(name).addFilter(throttle)
