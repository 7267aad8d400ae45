"""A delivery as it goes out: the CloudEvents JSON body and the Standard Webhooks headers, signed."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from service.crypto import CredentialCipher, Sealed
from service.events.cloudevents import structured
from service.events.store import OutboxEvent
from service.webhooks import signing
from service.webhooks.store import Row


@dataclass(frozen=True, slots=True)
class Prepared:
    event_id: str
    body: bytes
    secrets: tuple[str, ...]

    def headers(self) -> dict[str, str]:
        """Signed now: the timestamp is the attempt's, so a retry is not refused as a replay."""
        now = int(time.time())
        return {
            "Content-Type": CONTENT_TYPE,
            "webhook-id": self.event_id,
            "webhook-timestamp": str(now),
            "webhook-signature": signing.signature_header(self.secrets, self.event_id, now, self.body),
        }


CONTENT_TYPE = "application/cloudevents+json"
# Opened secrets kept in memory (by endpoint and ciphertext), so a busy endpoint is not unsealed per event.
_CACHE_LIMIT = 10_000


def prepare(row: Row, cipher: CredentialCipher, cache: dict[tuple[uuid.UUID, bytes], str]) -> Prepared:
    """The body of the delivery's event and the endpoint's secrets in use (the newest first)."""
    event = OutboxEvent.of_row(row)
    endpoint = row["endpoint_id"]
    secrets = [_open(cipher, cache, endpoint, row["secret"], row["secret_key_id"])]
    if row["previous_secret"] is not None:
        secrets.append(_open(cipher, cache, endpoint, row["previous_secret"], row["previous_secret_key_id"]))
    return Prepared(str(event.event_id), structured(event), tuple(secrets))


def _open(
    cipher: CredentialCipher,
    cache: dict[tuple[uuid.UUID, bytes], str],
    endpoint: uuid.UUID,
    sealed: bytes,
    key_id: str,
) -> str:
    key = (endpoint, sealed)
    secret = cache.get(key)
    if secret is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        secret = cache[key] = signing.unseal(cipher, endpoint, Sealed(sealed, key_id))
    return secret
