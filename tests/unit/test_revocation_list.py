"""The in-memory revocation list and how TokenService applies it, on the service's injected clock."""

from __future__ import annotations

import uuid

import jwt
import pytest

from service.auth.keys import generate_private_key_pem, load_signing_keys
from service.auth.principal import Principal, Role
from service.auth.revocation import CLOCK_SKEW_SECONDS, Revocation, RevocationList, Revoked
from service.auth.tokens import API_KEY_CLAIM, FAMILY_CLAIM, LEEWAY_SECONDS, TokenService
from service.errors import Unauthenticated
from service.settings import SettingsError, load_settings

ORG = uuid.uuid4()
OWNER = Principal(str(uuid.uuid4()), frozenset({Role.OWNER}), ORG)
CUSTOMER = Principal("host-user", frozenset({Role.CUSTOMER}), ORG, uuid.uuid4())
SETTINGS = load_settings(
    {"DATABASE_URL": "postgresql://app@localhost/a", "JWT_PRIVATE_KEY": generate_private_key_pem()}
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _service(clock: Clock, revocations: RevocationList | None = None) -> TokenService:
    return TokenService(
        load_signing_keys(SETTINGS), issuer="accounts-service", audience="accounts-api", ttl=600,
        clock=clock, revocations=revocations,
    )  # fmt: skip


def _refused(tokens: TokenService, token: str, message: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(token)
    assert caught.value.detail == message


def test_the_list_covers_a_jti_and_tokens_issued_up_to_a_cutoff() -> None:
    revocations = RevocationList()
    revocations.add(Revocation(Revoked.JTI, "j1", 100.5, 9e9))
    revocations.add(Revocation(Revoked.USER, "u1", 100.5, 9e9))
    assert revocations.covers("j1", 500, ())
    assert not revocations.covers("j2", 500, ())
    user = ((Revoked.USER, "u1"),)
    assert revocations.covers("j2", 100, user) and revocations.covers("j2", 100.5, user)
    # Clocks of hosts and database differ a little: a token stamped just after still counts as before.
    assert revocations.covers("j2", 100.5 + CLOCK_SKEW_SECONDS, user)
    assert not revocations.covers("j2", 101 + CLOCK_SKEW_SECONDS, user)
    assert not revocations.covers("j2", 50, ((Revoked.API_KEY, "u1"),))
    # A later revocation of the same user moves the cut-off forward, an older notice never back.
    revocations.add(Revocation(Revoked.USER, "u1", 200, 9e9))
    revocations.add(Revocation(Revoked.USER, "u1", 150, 9e9))
    assert revocations.covers("j2", 199, user)
    revocations.replace([Revocation(Revoked.FAMILY, "f", 1, 2)])
    assert len(revocations) == 1 and not revocations.covers("j1", 1, user)


def test_tokens_are_refused_once_revoked_even_when_cached() -> None:
    clock, revocations = Clock(1_000_000), RevocationList()
    tokens = _service(clock, revocations)
    family, key = uuid.uuid4(), uuid.uuid4()
    owner = tokens.issue(OWNER, family_id=family)
    customer = tokens.issue(CUSTOMER, api_key_id=key)
    assert jwt.decode(owner.token, options={"verify_signature": False})[FAMILY_CLAIM] == str(family)
    assert jwt.decode(customer.token, options={"verify_signature": False})[API_KEY_CLAIM] == str(key)
    assert tokens.verify(owner.token).jti == owner.jti
    assert tokens.verify(customer.token) == CUSTOMER

    clock.now += 5
    revocations.add(Revocation(Revoked.FAMILY, str(family), clock.now, 9e9))
    revocations.add(Revocation(Revoked.API_KEY, str(key), clock.now, 9e9))
    _refused(tokens, owner.token, "Invalid JWT Token")
    _refused(tokens, customer.token, "Invalid JWT Token")
    # Minted after the cut-off (and the margin for clock skew): valid.
    clock.now += 1 + CLOCK_SKEW_SECONDS
    assert tokens.verify(tokens.issue(OWNER, family_id=family).token) == OWNER


def test_a_user_revocation_covers_its_tokens_and_no_customer_named_alike() -> None:
    clock, revocations = Clock(2_000_000), RevocationList()
    tokens = _service(clock, revocations)
    owner = tokens.issue(OWNER).token
    lookalike = tokens.issue(Principal(OWNER.subject, frozenset({Role.CUSTOMER}), ORG, uuid.uuid4())).token
    revocations.add(Revocation(Revoked.USER, OWNER.subject, clock.now, 9e9))
    _refused(tokens, owner, "Invalid JWT Token")
    assert tokens.verify(lookalike).subject == OWNER.subject


def test_expiry_follows_the_injected_clock_on_both_paths() -> None:
    clock = Clock(3_000_000)
    tokens = _service(clock)
    cached = tokens.issue(OWNER).token
    assert tokens.verify(cached) == OWNER
    clock.now += 600 + LEEWAY_SECONDS - 1
    assert tokens.verify(cached) == OWNER
    assert _service(clock).verify(cached) == OWNER
    clock.now += 1
    _refused(tokens, cached, "Expired JWT Token")
    _refused(_service(clock), cached, "Expired JWT Token")


def test_a_token_from_the_future_is_invalid() -> None:
    clock = Clock(4_000_000)
    future = _service(Clock(clock.now + LEEWAY_SECONDS + 5)).issue(OWNER).token
    _refused(_service(clock), future, "Invalid JWT Token")
    clock.now += 10
    assert _service(clock).verify(future) == OWNER


@pytest.mark.parametrize("claim", [API_KEY_CLAIM, FAMILY_CLAIM])
@pytest.mark.parametrize("value", [None, "not-a-uuid", 7])
def test_a_malformed_naming_claim_is_invalid(claim: str, value: object) -> None:
    clock = Clock(5_000_000)
    tokens = _service(clock)
    claims = jwt.decode(tokens.issue(OWNER).token, options={"verify_signature": False}) | {claim: value}
    forged = jwt.encode(claims, load_signing_keys(SETTINGS).signing_key, algorithm="EdDSA")
    _refused(tokens, forged, "Invalid JWT Token")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"WORKER_TOKEN_MAX_TTL": "3600"}, "WORKER_TOKEN_MAX_TTL"),
        ({"WORKER_TOKEN_TTL": "7200", "WORKER_TOKEN_MAX_TTL": "3600"}, "WORKER_TOKEN_MAX_TTL"),
        ({"REVOCATION_REFRESH_SECONDS": "0"}, "REVOCATION_REFRESH_SECONDS"),
        ({"REVOCATION_REFRESH_SECONDS": "61"}, "REVOCATION_REFRESH_SECONDS"),
    ],
)
def test_revocation_settings_are_checked(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATABASE_URL": "postgresql://app@localhost/a", **env})
    assert str(caught.value).startswith(variable)


def test_revocation_settings_defaults() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://app@localhost/a"})
    assert (settings.worker_token_max_ttl, settings.revocation_refresh_seconds) == (7 * 24 * 3600, 30.0)
