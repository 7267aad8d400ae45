"""The key material that signs and verifies access tokens, read from configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from service.settings import Settings, SettingsError

_PEM_START = "-----BEGIN"
_MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """One algorithm, pinned, and the keys that go with it (the same secret for HMAC)."""

    algorithm: str
    signing_key: Any
    verifying_key: Any


def load_signing_keys(settings: Settings) -> SigningKeys:
    """The configured keys; without any, the service cannot authenticate anyone and must not start."""
    if settings.jwt_secret:
        secret = settings.jwt_secret.encode()
        return SigningKeys("HS256", secret, secret)
    if not settings.jwt_private_key:
        raise SettingsError(
            "JWT_PRIVATE_KEY is required but not set (or JWT_SECRET for HS256); "
            "`accounts-service dev` generates a key pair for local use"
        )
    private = _load_private(_pem_text(settings.jwt_private_key, "JWT_PRIVATE_KEY"))
    public = private.public_key()
    if settings.jwt_public_key:
        configured = _load_public(_pem_text(settings.jwt_public_key, "JWT_PUBLIC_KEY"))
        if _public_bytes(configured) != _public_bytes(public):
            raise SettingsError("JWT_PUBLIC_KEY does not belong to JWT_PRIVATE_KEY")
    return SigningKeys(_algorithm(private), private, public)


def _pem_text(value: str, variable: str) -> bytes:
    """PEM text as given, with `\\n` escapes undone (one-line environment files), or a file's content."""
    if _PEM_START in value:
        return value.replace("\\n", "\n").encode()
    path = Path(value).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{variable} is neither PEM text nor a readable file: {exc.strerror}") from None


def _load_private(pem: bytes) -> Any:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"JWT_PRIVATE_KEY is not an unencrypted PEM private key: {exc}") from None
    _algorithm(key)
    return key


def _load_public(pem: bytes) -> Any:
    try:
        return serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"JWT_PUBLIC_KEY is not a PEM public key: {exc}") from None


def _algorithm(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= _MIN_RSA_BITS:
        return "RS256"
    raise SettingsError("JWT_PRIVATE_KEY must be an Ed25519, EC P-256 or RSA (2048 bits or more) key")


def _public_bytes(key: Any) -> bytes:
    data: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def generate_private_key_pem() -> str:
    """A new Ed25519 private key as PEM text."""
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def ensure_private_key_file(path: Path) -> Path:
    """Create a private key file readable only by its owner, unless one is there already."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(generate_private_key_pem())
    return path
