"""An example inbox worker: learns the live accounts from the state topic, then follows every change."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from service.events.consumer import AccountEvent, AccountEventConsumer, MemoryState
from service.events.schema import AccountSnapshot
from service.settings import Settings

Say = Callable[[str], None]
# Accounts in these states wait for their owner (paused) or for new credentials (disconnected).
IDLE_STATUSES = frozenset({"paused", "disconnected"})
# The history is replayed from a little before the state topic was read, so a change published while
# the state topic was being read is not missed; the version check drops what the state already had.
_REPLAY_SECONDS = 60


class Inbox:
    """The worker's picture of the world: every live account, by id."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountSnapshot] = {}

    def apply(self, event: AccountEvent) -> str:
        """Take an event into account; return a line saying what changed."""
        if event.removed or event.account is None:
            self.accounts.pop(event.account_id, None)
            return f"- {event.account_id} removed (v{event.version}): stop polling"
        self.accounts[event.account_id] = event.account
        verb = "connected" if event.type == "account.connected" else "updated"
        changed = f" [{', '.join(event.changes)}]" if event.changes else ""
        return f"{'+' if verb == 'connected' else '~'} {_describe(event.account)} {verb}{changed}"

    def pollable(self) -> list[AccountSnapshot]:
        """The live accounts a worker would poll now, in a stable order."""
        return sorted(
            (a for a in self.accounts.values() if a.status not in IDLE_STATUSES), key=lambda a: a.id
        )


def _describe(account: AccountSnapshot) -> str:
    return f"{account.id} ({account.provider} {account.external_id or account.name}, {account.status})"


async def bootstrap(settings: Settings, state: MemoryState, inbox: Inbox) -> None:
    """Read the compacted state topic from the beginning to its current end."""
    servers, topic = settings.kafka_bootstrap_servers, settings.kafka_state_topic
    consumer = AccountEventConsumer(servers, [topic], state=state)
    async with consumer:
        async for event in consumer.events(until_end=True):
            inbox.apply(event)


async def run_worker(
    settings: Settings, say: Say, stop: asyncio.Event, *, follow: bool = True, group_id: str | None = None
) -> Inbox:
    """Bootstrap from the state topic, print what would be polled, then follow the history topic."""
    state, inbox = MemoryState(), Inbox()
    started_ms = int(time.time() * 1000)
    await bootstrap(settings, state, inbox)
    say(f"{len(inbox.accounts)} live accounts; would poll {len(inbox.pollable())}:")
    for account in inbox.pollable():
        say(f"  {_describe(account)}")
    if not follow:
        return inbox
    consumer = AccountEventConsumer(
        settings.kafka_bootstrap_servers,
        [settings.kafka_events_topic],
        state=state,
        group_id=group_id,
        start=started_ms - _REPLAY_SECONDS * 1000,
    )
    async with consumer:
        say(f"following {settings.kafka_events_topic} …")
        events = consumer.events()
        while not stop.is_set():
            next_event = asyncio.ensure_future(anext(events))
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({next_event, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if next_event not in done:
                next_event.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_event
                break
            say(inbox.apply(next_event.result()))
            say(f"  now polling {len(inbox.pollable())} accounts")
        await events.aclose()
    return inbox
