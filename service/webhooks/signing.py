"""Signing secrets (`whsec_` + base64 of 32 random bytes), sealed at rest; Standard Webhooks signatures."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from service.crypto import CredentialCipher, Sealed

PREFIX = "whsec_"
_SECRET_BYTES = 32
# The sealed document's one field: the cipher seals string mappings.
_FIELD = "webhookSigningSecret"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def seal(cipher: CredentialCipher, endpoint_id: uuid.UUID, secret: str) -> Sealed:
    """Sealed under the active key and bound to the endpoint id, so it cannot be moved to another row."""
    return cipher.seal(endpoint_id, {_FIELD: secret})


def unseal(cipher: CredentialCipher, endpoint_id: uuid.UUID, sealed: Sealed) -> str:
    return cipher.open(endpoint_id, sealed)[_FIELD]


def signature_header(secrets_in_use: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<sig>` per secret, space-separated (the newest first), as `webhook-signature` carries them."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = body.decode()
    return " ".join(Webhook(secret).sign(message_id, moment, text) for secret in secrets_in_use)
