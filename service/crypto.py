"""Account credentials at rest: AES-256-GCM under a key ring, each ciphertext bound to its account."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_NONCE_BYTES = 12
_KEY_BYTES = 32
# Domain separation: these bytes are never used for anything but account credentials.
_AAD_LABEL = b"accounts-service/credentials/v1\x00"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, str]).decode


class KeyRingError(ValueError):
    """The key ring text is malformed; the message never contains key material."""


class CredentialsUnreadable(Exception):
    """A stored ciphertext cannot be opened: unknown key id, wrong account, or tampered bytes."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """Ciphertext (nonce ‖ AES-GCM output) and the id of the key that sealed it."""

    ciphertext: bytes
    key_id: str


def parse_key_ring(text: str) -> dict[str, bytes]:
    """Read `kid:base64key[,kid:base64key…]`; the first entry is the active key."""
    ring: dict[str, bytes] = {}
    for position, entry in enumerate(part.strip() for part in text.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise KeyRingError(f"entry {position + 1} must look like kid:base64key (kid: [A-Za-z0-9_.-])")
        if key_id in ring:
            raise KeyRingError(f"key id {key_id!r} appears twice")
        ring[key_id] = _decode_key(encoded.strip(), key_id)
    if not ring:
        raise KeyRingError("must hold at least one kid:base64key entry")
    return ring


def _decode_key(encoded: str, key_id: str) -> bytes:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"key {key_id!r} is not valid base64") from None
    if len(key) != _KEY_BYTES:
        raise KeyRingError(f"key {key_id!r} must decode to {_KEY_BYTES} bytes, not {len(key)}")
    return key


def new_key_ring_entry(key_id: str = "k1") -> str:
    """A fresh `kid:base64key` entry (for development set-ups and tests)."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()}"


class CredentialCipher:
    """Seals credentials with the active key; opens them with whichever ring key sealed them."""

    def __init__(self, ring: Mapping[str, bytes]) -> None:
        if not ring:
            raise KeyRingError("must hold at least one key")
        self._keys = {key_id: AESGCM(key) for key_id, key in ring.items()}
        self.active_key_id = next(iter(ring))
        # A separate key for fingerprints, so no MAC shares a key with the cipher.
        self._fingerprint_key = hmac.digest(ring[self.active_key_id], b"request-fingerprint", hashlib.sha256)

    @classmethod
    def from_text(cls, text: str) -> CredentialCipher:
        return cls(parse_key_ring(text))

    def seal(self, account_id: UUID, credentials: Mapping[str, str]) -> Sealed:
        nonce = os.urandom(_NONCE_BYTES)
        aad = _associated_data(account_id, self.active_key_id)
        ciphertext = self._keys[self.active_key_id].encrypt(nonce, _encode(credentials), aad)
        return Sealed(nonce + ciphertext, self.active_key_id)

    def open(self, account_id: UUID, sealed: Sealed) -> dict[str, str]:
        aead = self._keys.get(sealed.key_id)
        if aead is None or len(sealed.ciphertext) <= _NONCE_BYTES:
            raise CredentialsUnreadable(f"no usable key {sealed.key_id!r} for account {account_id}")
        nonce, ciphertext = sealed.ciphertext[:_NONCE_BYTES], sealed.ciphertext[_NONCE_BYTES:]
        try:
            plaintext = aead.decrypt(nonce, ciphertext, _associated_data(account_id, sealed.key_id))
        except InvalidTag:
            raise CredentialsUnreadable(f"credentials of account {account_id} fail authentication") from None
        return _decode(plaintext)

    def fingerprint(self, *parts: bytes) -> bytes:
        """A keyed hash: stored request digests reveal nothing guessable about credentials they cover."""
        mac = hmac.new(self._fingerprint_key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        return mac.digest()


def _associated_data(account_id: UUID, key_id: str) -> bytes:
    return _AAD_LABEL + account_id.bytes + key_id.encode()
