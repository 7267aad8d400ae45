"""Forged, expired and misaddressed tokens get 401 and no data, on every protected operation."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from litestar.testing import AsyncTestClient

from service.auth.keys import generate_private_key_pem
from service.settings import Settings
from tests.identity import Tenants

Client = AsyncTestClient


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(tenants: Tenants, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "accounts-service",
        "aud": "accounts-api",
        "sub": str(tenants.a.owner_id),
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "org": str(tenants.a.organization_id),
        "roles": ["ROLE_OWNER"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def _sign(claims: dict[str, Any], pem: str) -> str:
    return jwt.encode(claims, serialization.load_pem_private_key(pem.encode(), None), algorithm="EdDSA")


def _forgeries(tenants: Tenants, key: str) -> dict[str, tuple[str, str]]:
    """name → (token, the 401 message it must get)."""
    public = (
        serialization.load_pem_private_key(key.encode(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, payload = _b64(b'{"alg":"HS256","typ":"JWT"}'), _b64(json.dumps(_claims(tenants)).encode())
    hs256 = f"{header}.{payload}." + _b64(
        hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    )
    good_header, _, good_signature = _sign(_claims(tenants), key).split(".")
    other_org = _b64(json.dumps(_claims(tenants, org=str(tenants.b.organization_id))).encode())
    return {
        "alg none": (jwt.encode(_claims(tenants), None, algorithm="none"), "Invalid JWT Token"),
        "HS256 with the public key": (hs256, "Invalid JWT Token"),
        "wrong key": (_sign(_claims(tenants), generate_private_key_pem()), "Invalid JWT Token"),
        "expired": (_sign(_claims(tenants, iat=1_000_000, exp=1_000_600), key), "Expired JWT Token"),
        "missing exp": (_sign(_claims(tenants, exp=...), key), "Invalid JWT Token"),
        "wrong aud": (_sign(_claims(tenants, aud="someone-else"), key), "Invalid JWT Token"),
        "wrong iss": (_sign(_claims(tenants, iss="https://evil.example"), key), "Invalid JWT Token"),
        "tampered payload": (f"{good_header}.{other_org}.{good_signature}", "Invalid JWT Token"),
        # Minted by another deployment for another organization: its key is not ours.
        "another organization's token": (
            _sign(_claims(tenants, org=str(tenants.b.organization_id)), generate_private_key_pem()),
            "Invalid JWT Token",
        ),
    }


FORGERIES = [
    "alg none",
    "HS256 with the public key",
    "wrong key",
    "expired",
    "missing exp",
    "wrong aud",
    "wrong iss",
    "tampered payload",
    "another organization's token",
]


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_forged_token_gets_401_and_no_data(
    client: Client,
    tenants: Tenants,
    settings: Settings,
    db: asyncpg.Connection,
    forgery: str,
) -> None:
    token, message = _forgeries(tenants, settings.jwt_private_key)[forgery]
    auth = {"Authorization": f"Bearer {token}"}
    before = await db.fetch("SELECT * FROM clients ORDER BY id")
    target = f"/api/clients/{tenants.a.client_ids[0]}"
    for method, path, body, content_type in [
        ("GET", "/api/clients", None, None),
        ("GET", target, None, None),
        ("POST", "/api/clients", b'{"name": "x"}', "application/json"),
        ("PATCH", target, b'{"name": "x"}', "application/merge-patch+json"),
        ("DELETE", target, None, None),
        ("POST", "/api/tokens", b'{"client": "%s", "subject": "x"}' % target.encode(), "application/json"),
    ]:
        headers = auth | ({"Content-Type": content_type} if content_type else {})
        response = await client.request(method, path, content=body, headers=headers)
        assert response.status_code == 401, f"{method} {path}"
        assert response.json() == {"code": 401, "message": message}
    assert await db.fetch("SELECT * FROM clients ORDER BY id") == before


async def test_the_genuine_token_is_accepted(
    client: Client, tenants: Tenants, settings: Settings, db: asyncpg.Connection
) -> None:
    """The forgeries above differ from this one token only in what they break."""
    token = _sign(_claims(tenants), settings.jwt_private_key)
    response = await client.get("/api/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
