"""The outbox's names: the event types a change records, and the channel that wakes the relay."""

from __future__ import annotations

from typing import Literal

EventType = Literal["account.connected", "account.updated", "account.removed"]
CHANNEL = "accounts_outbox"
# "outbox-w": held by the relay while it waits for work; writers notify CHANNEL only then (migration 0011).
WAITING_LOCK = 0x6F7574626F782D77
