"""The outbox's names: the event types a change records, and the channel that wakes the relay."""

from __future__ import annotations

from typing import Literal

EventType = Literal["account.connected", "account.updated", "account.removed"]
CHANNEL = "accounts_outbox"
