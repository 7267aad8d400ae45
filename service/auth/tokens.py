"""Access tokens: signed JWTs that carry a Principal, issued and verified with one pinned algorithm."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from service.auth.keys import SigningKeys, load_signing_keys
from service.auth.principal import Principal, Role
from service.errors import Unauthenticated
from service.settings import Settings

REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "exp", "jti", "roles")
# Instances' clocks drift a little; a token minted on one must not look "issued in the future" on another.
LEEWAY_SECONDS = 10
# Verified tokens remembered per process: a caller sends the same token with every request, and checking
# its signature again each time is costly. Bounded; expiry is checked on every hit.
VERIFIED_CACHE_SIZE = 4096

INVALID = "Invalid JWT Token"
EXPIRED = "Expired JWT Token"
NOT_FOUND = "JWT Token not found"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


class TokenService:
    """Signs Principals into tokens and turns tokens back into Principals."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        audience: str,
        ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._clock = clock
        # token → (its principal, its exp claim), oldest first.
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.time) -> TokenService:
        return cls(
            load_signing_keys(settings),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=settings.jwt_ttl,
            clock=clock,
        )

    @property
    def algorithm(self) -> str:
        return self._keys.algorithm

    def issue(self, principal: Principal, ttl: int | None = None) -> IssuedToken:
        """A token for `principal`, valid `ttl` seconds (JWT_TTL by default)."""
        now = int(self._clock())
        expires = now + (self.ttl if ttl is None else ttl)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.subject,
            "iat": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
            "org": None if principal.organization_id is None else str(principal.organization_id),
            "roles": sorted(role.value for role in principal.roles),
        }
        if principal.client_id is not None:
            claims["client"] = str(principal.client_id)
        token = jwt.encode(claims, self._keys.signing_key, algorithm=self._keys.algorithm)
        return IssuedToken(token, datetime.fromtimestamp(expires, UTC))

    def verify(self, token: str) -> Principal:
        """The Principal a valid token carries; anything else is Unauthenticated with LexikJWT's message."""
        known = self._verified.get(token)
        # The same expiry rule as PyJWT's: valid while exp > now - leeway.
        if known is not None and known[1] > self._clock() - LEEWAY_SECONDS:
            return known[0]
        principal, expires = self._decode(token)
        if known is None and len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._keys.verifying_key,
                algorithms=[self._keys.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                # PyJWT reads the wall clock: the times are checked below, against the service's clock.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            _check_times(claims, self._clock())
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(EXPIRED) from None
        except jwt.PyJWTError:
            raise Unauthenticated(INVALID) from None
        principal = _principal(claims)
        if principal is None or not isinstance(claims["exp"], int | float):
            raise Unauthenticated(INVALID)
        return principal, float(claims["exp"])


def _check_times(claims: dict[str, Any], now: float) -> None:
    """iat and nbf not in the future, exp not past (each within the leeway), in PyJWT's order and errors."""
    try:
        if int(claims["iat"]) > now + LEEWAY_SECONDS:
            raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
        if "nbf" in claims and int(claims["nbf"]) > now + LEEWAY_SECONDS:
            raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
        if int(claims["exp"]) <= now - LEEWAY_SECONDS:
            raise jwt.ExpiredSignatureError("Signature has expired")
    except (ValueError, TypeError, OverflowError):
        raise jwt.DecodeError("A time claim is not an integer.") from None


def _principal(claims: dict[str, Any]) -> Principal | None:
    """The caller the claims describe, or None when they do not describe a coherent one."""
    subject, raw_roles = claims["sub"], claims["roles"]
    if not isinstance(subject, str) or not subject or not isinstance(raw_roles, list) or not raw_roles:
        return None
    if "org" not in claims or not all(isinstance(r, str) for r in raw_roles):
        return None
    try:
        roles = frozenset(Role(r) for r in raw_roles)
        organization = _uuid(claims["org"])
        client = _uuid(claims.get("client"))
    except ValueError:
        return None
    if Role.WORKER in roles:
        coherent = roles == {Role.WORKER} and organization is None and client is None
    elif Role.CUSTOMER in roles:
        coherent = roles == {Role.CUSTOMER} and organization is not None and client is not None
    else:
        coherent = organization is not None and client is None
    if not coherent:
        return None
    return Principal(subject=subject, roles=roles, organization_id=organization, client_id=client)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    return uuid.UUID(value)
