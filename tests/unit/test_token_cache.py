"""Verified tokens are remembered per process, never past their expiry and never for another token."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from service.auth import tokens as token_module
from service.auth.keys import generate_private_key_pem
from service.auth.principal import Principal, Role
from service.auth.tokens import LEEWAY_SECONDS, TokenService
from service.errors import Unauthenticated
from service.settings import load_settings

PEM = generate_private_key_pem()
ORG = uuid.uuid4()
OWNER = Principal("user-1", frozenset({Role.OWNER}), ORG)


class Clock:
    """A clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _service(clock: Clock | None = None) -> TokenService:
    settings = load_settings({"DATABASE_URL": "postgresql://app@localhost/accounts", "JWT_PRIVATE_KEY": PEM})
    return TokenService.from_settings(settings, clock=clock or time.time)


def _token(exp: int, pem: str = PEM) -> str:
    claims = {
        "iss": "accounts-service",
        "aud": "accounts-api",
        "sub": "user-1",
        "iat": int(time.time()) - 60,
        "exp": exp,
        "jti": uuid.uuid4().hex,
        "org": str(ORG),
        "roles": ["ROLE_OWNER"],
    }
    return jwt.encode(claims, serialization.load_pem_private_key(pem.encode(), None), algorithm="EdDSA")


def test_a_remembered_token_is_still_refused_once_expired() -> None:
    clock = Clock()
    tokens = _service(clock)
    # Valid for about one more second, leeway included.
    token = _token(int(clock.now) - LEEWAY_SECONDS + 2)
    assert tokens.verify(token) == OWNER
    clock.now += 2.2
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(token)
    assert caught.value.detail == "Expired JWT Token"


def test_a_new_token_is_judged_by_the_services_clock() -> None:
    clock = Clock()
    tokens = _service(clock)
    token = _token(int(clock.now) + 600)
    clock.now += 600 + LEEWAY_SECONDS
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(token)
    assert caught.value.detail == "Expired JWT Token"
    clock.now -= 3600
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(_token(int(clock.now) + 7200))
    assert caught.value.detail == "Invalid JWT Token"


def test_a_token_differing_from_a_remembered_one_is_verified_in_full() -> None:
    tokens = _service()
    token = _token(int(time.time()) + 600)
    assert tokens.verify(token) == OWNER
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthenticated):
        tokens.verify(forged)


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_module, "VERIFIED_CACHE_SIZE", 3)
    tokens = _service()
    issued = [tokens.issue(OWNER).token for _ in range(5)]
    for token in issued:
        assert tokens.verify(token) == OWNER
    assert len(tokens._verified) == 3
    assert tokens.verify(issued[0]) == OWNER
