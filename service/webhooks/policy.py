"""When to try a delivery again: the retry schedule with jitter, `Retry-After`, and what a status means."""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A receiver may ask to wait, but not for longer than this.
MAX_RETRY_AFTER = 24 * 3600.0
# Each scheduled delay is spread by up to this fraction either way, so retries of many deliveries that
# failed together do not arrive together.
JITTER = 0.2


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"


def verdict(status: int | None) -> Verdict:
    """2xx is delivered; 410 disables the endpoint; anything else (no answer included) is retried."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    return Verdict.RETRY


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or None when unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit() and len(text) <= 10:
        return min(float(text), MAX_RETRY_AFTER)
    if len(text) > 64:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def next_delay(
    schedule: Sequence[float], attempts_done: int, asked: float | None, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after `attempts_done` attempts, or None once the schedule is spent.

    A receiver's `Retry-After` is a floor: the next attempt never comes sooner than it asked.
    """
    if attempts_done >= len(schedule):
        return None
    base = schedule[attempts_done]
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return max(base * spread, asked or 0.0)


def duration_text(seconds: float) -> str:
    """`5 days`, `2 hours`, `0.5 seconds`: how long an endpoint may fail before it is disabled."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}{'' if seconds == size else 's'}"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"
