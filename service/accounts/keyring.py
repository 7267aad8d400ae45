"""The credential key ring the accounts are sealed with, from settings."""

from __future__ import annotations

from service.crypto import CredentialCipher
from service.settings import Settings, SettingsError


def load_cipher(settings: Settings) -> CredentialCipher:
    """The credential key ring; without one, credentials cannot be stored and the service must not start."""
    if not settings.credentials_keys.strip():
        raise SettingsError(
            "CREDENTIALS_KEYS is required but not set; `accounts-service dev` generates a key for local use"
        )
    return CredentialCipher.from_text(settings.credentials_keys)
