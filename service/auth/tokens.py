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
from service.auth.revocation import Handles, RevocationList, Revoked
from service.errors import Unauthenticated
from service.settings import Settings

REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "exp", "jti", "roles")
# Instances' clocks drift a little; a token minted on one must not look "issued in the future" on another.
LEEWAY_SECONDS = 10
# Verified tokens remembered per process: a caller sends the same token with every request, and checking
# its signature again each time is costly. Bounded; expiry and revocation are checked on every hit.
VERIFIED_CACHE_SIZE = 4096
# Claims naming what minted a token, so revoking that revokes the token: the API key of a customer token,
# the refresh family (the log-in) of a user's token.
API_KEY_CLAIM = "akid"
FAMILY_CLAIM = "fam"

# LexikJWT's messages, which clients of the original API match on.
INVALID, EXPIRED, NOT_FOUND = "Invalid JWT Token", "Expired JWT Token", "JWT Token not found"


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a verified token says, kept so the next request with it costs only lookups."""

    principal: Principal
    expires: float
    issued: float
    handles: Handles


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    jti: str


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
        revocations: RevocationList | None = None,
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._clock = clock
        self.revocations = revocations if revocations is not None else RevocationList()
        # token → what it says, oldest first.
        self._verified: dict[str, _Verified] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        revocations: RevocationList | None = None,
    ) -> TokenService:
        return cls(
            load_signing_keys(settings),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=settings.jwt_ttl,
            clock=clock,
            revocations=revocations,
        )

    @property
    def algorithm(self) -> str:
        return self._keys.algorithm

    def issue(
        self,
        principal: Principal,
        ttl: int | None = None,
        *,
        api_key_id: uuid.UUID | None = None,
        family_id: uuid.UUID | None = None,
    ) -> IssuedToken:
        """A token for `principal`, valid `ttl` seconds (JWT_TTL by default), naming what minted it."""
        now = int(self._clock())
        expires = now + (self.ttl if ttl is None else ttl)
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.subject,
            "iat": now,
            "exp": expires,
            "jti": jti,
            "org": None if principal.organization_id is None else str(principal.organization_id),
            "roles": sorted(role.value for role in principal.roles),
        }
        if principal.client_id is not None:
            claims["client"] = str(principal.client_id)
        if api_key_id is not None:
            claims[API_KEY_CLAIM] = str(api_key_id)
        if family_id is not None:
            claims[FAMILY_CLAIM] = str(family_id)
        token = jwt.encode(claims, self._keys.signing_key, algorithm=self._keys.algorithm)
        return IssuedToken(token, datetime.fromtimestamp(expires, UTC), jti)

    def verify(self, token: str) -> Principal:
        """The Principal a valid, unrevoked token carries; anything else is Unauthenticated with
        LexikJWT's message (a revoked token is an invalid one)."""
        known = self._verified.get(token)
        if known is None or known.expires <= self._clock() - LEEWAY_SECONDS:
            if known is not None:
                raise Unauthenticated(EXPIRED)
            known = self._decode(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = known
        principal = known.principal
        assert principal.jti is not None
        if self.revocations.covers(principal.jti, known.issued, known.handles):
            raise Unauthenticated(INVALID)
        return principal

    def holder_revocable(self, token: str) -> tuple[Principal, float] | None:
        """The principal and expiry of a valid token, revoked or not; None for any other string."""
        try:
            known = self._verified.get(token) or self._decode(token)
        except Unauthenticated:
            return None
        if known.expires <= self._clock() - LEEWAY_SECONDS:
            return None
        return known.principal, known.expires

    def now(self) -> float:
        return self._clock()

    def _decode(self, token: str) -> _Verified:
        try:
            claims = jwt.decode(
                token,
                self._keys.verifying_key,
                algorithms=[self._keys.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                # Times are checked below against this service's clock.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthenticated(INVALID) from None
        expires, issued, now = claims["exp"], claims["iat"], self._clock()
        if not _is_time(expires) or not _is_time(issued) or issued > now + LEEWAY_SECONDS:
            raise Unauthenticated(INVALID)
        if "nbf" in claims and (not _is_time(claims["nbf"]) or claims["nbf"] > now + LEEWAY_SECONDS):
            raise Unauthenticated(INVALID)
        if expires <= now - LEEWAY_SECONDS:
            raise Unauthenticated(EXPIRED)
        principal = _principal(claims)
        handles = _handles(claims, principal) if principal is not None else None
        if principal is None or handles is None:
            raise Unauthenticated(INVALID)
        return _Verified(principal, float(expires), float(issued), handles)


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _handles(claims: dict[str, Any], principal: Principal) -> Handles | None:
    """What can revoke the token besides its jti; None when a naming claim is malformed."""
    handles: list[tuple[Revoked, str]] = []
    if principal.has_any(Role.OWNER, Role.VIEWER):
        handles.append((Revoked.USER, principal.subject))
    for claim, kind in ((API_KEY_CLAIM, Revoked.API_KEY), (FAMILY_CLAIM, Revoked.FAMILY)):
        if claim in claims:
            try:
                named = _uuid(claims[claim])
            except ValueError:
                return None
            if named is None:
                return None
            handles.append((kind, str(named)))
    return tuple(handles)


def _principal(claims: dict[str, Any]) -> Principal | None:
    """The caller the claims describe, or None when they do not describe a coherent one."""
    subject, raw_roles = claims["sub"], claims["roles"]
    jti = claims["jti"]
    if not isinstance(subject, str) or not subject or not isinstance(raw_roles, list) or not raw_roles:
        return None
    if not isinstance(jti, str) or not jti:
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
    return Principal(subject=subject, roles=roles, organization_id=organization, client_id=client, jti=jti)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    return uuid.UUID(value)
