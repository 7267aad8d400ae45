"""Use cases of the authentication endpoints: log in, refresh, mint a customer token."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from service.auth import audit
from service.auth.api_keys import api_key_id
from service.auth.passwords import Passwords
from service.auth.principal import Principal, Role
from service.auth.refresh import issue_refresh_token, refused, rotate_refresh_token
from service.auth.revocation import Revoked
from service.auth.revoke import horizon, revoke
from service.auth.throttle import LoginThrottle
from service.auth.tokens import LEEWAY_SECONDS, IssuedToken, TokenService
from service.db.pool import Database
from service.db.sql import load_queries
from service.db.tenancy import client_in_organization
from service.errors import TooManyRequests, Unauthenticated
from service.settings import Settings

_SQL = load_queries("service.auth", "queries.sql")

@dataclass(frozen=True, slots=True)
class TokenPair:
    token: str
    refresh_token: str


INVALID_CREDENTIALS = "Invalid credentials."
# Longer inputs cannot be a stored username or a sensible password; they still cost a decoy check.
MAX_USERNAME = 180
MAX_PASSWORD = 4096
# Far longer than any token this service signs; longer strings are not worth verifying.
MAX_TOKEN = 8192


def _minted(kind: str, principal: Principal, issued: IssuedToken, caller: dict[str, object]) -> None:
    audit.record(
        "token.minted",
        caller,
        kind=kind,
        issued_jti=issued.jti,
        issued_principal=principal.subject,
        issued_role=",".join(sorted(principal.roles)),
        issued_client=None if principal.client_id is None else str(principal.client_id),
        expires_at=issued.expires_at.isoformat(),
    )


def throttle_from(settings: Settings) -> LoginThrottle:
    return LoginThrottle(
        settings.login_max_failures, settings.login_max_failures_per_address, settings.login_failure_window
    )


class Sessions:
    """The authentication endpoints' use cases: log in, refresh, mint a customer token, revoke one's own."""

    def __init__(
        self, database: Database, passwords: Passwords, tokens: TokenService, settings: Settings
    ) -> None:
        self._database = database
        self._passwords = passwords
        self._tokens = tokens
        self._settings = settings
        self._throttle = throttle_from(settings)

    async def log_in(self, *, username: str, password: str, address: str) -> TokenPair:
        """Check the password; unknown user and wrong password fail alike and take about as long."""
        db, passwords, tokens, settings = self._database, self._passwords, self._tokens, self._settings
        throttle = self._throttle
        attempt = audit.identity(None, address) | {"username_digest": audit.username_digest(username)}
        async with db.connection() as connection:
            try:
                await throttle.attempt(connection, username, address)
            except TooManyRequests:
                audit.record("login.locked_out", attempt)
                raise
            row = None
            # PostgreSQL text cannot hold NUL, and no stored username is longer than the column allows.
            if len(username) <= MAX_USERNAME and "\x00" not in username:
                row = await connection.fetchrow(_SQL["user_by_username"], username)
        stored = row["password_hash"] if row is not None else None
        # The connection goes back to the pool before the deliberately slow hash check.
        valid = await passwords.verify(stored, password[:MAX_PASSWORD]) and len(password) <= MAX_PASSWORD
        if row is None or not valid:
            audit.record("login.failed", attempt)
            raise Unauthenticated(INVALID_CREDENTIALS)
        rehashed = await passwords.hash(password) if passwords.needs_rehash(row["password_hash"]) else None
        async with db.transaction() as connection:
            await throttle.succeeded(connection, username, address)
            if rehashed is not None:
                await connection.execute(_SQL["update_password_hash"], row["id"], rehashed)
            await connection.execute(_SQL["purge_refresh_tokens"], row["id"])
            family = uuid.uuid4()
            ttl = settings.refresh_token_ttl
            refresh_token = await issue_refresh_token(connection, row["id"], ttl, family)
        principal = Principal(str(row["id"]), frozenset({Role(row["role"])}), row["organization_id"])
        issued = tokens.issue(principal, family_id=family)
        caller = audit.identity(principal, address)
        audit.record("login.succeeded", caller, family=str(family))
        _minted("login", principal, issued, caller)
        return TokenPair(issued.token, refresh_token)


    async def refresh(self, refresh_token: str, *, address: str | None) -> TokenPair:
        """A new access token and the next refresh token of the family; a reused one revokes the family's
        access tokens too."""
        db, tokens, settings = self._database, self._tokens, self._settings
        async with db.transaction() as connection:
            rotation = await rotate_refresh_token(connection, refresh_token, settings.refresh_token_ttl)
            if rotation.reused and rotation.family_id is not None:
                await revoke(connection, Revoked.FAMILY, str(rotation.family_id), horizon(settings))
        if rotation.reused:
            audit.record(
                "token.revoked",
                audit.identity(None, address),
                kind=Revoked.FAMILY.value,
                revoked=str(rotation.family_id),
                reason="refresh token reused",
            )
        if rotation.principal is None or rotation.refresh_token is None:
            raise refused()
        issued = tokens.issue(rotation.principal, family_id=rotation.family_id)
        _minted("refresh", rotation.principal, issued, audit.identity(rotation.principal, address))
        return TokenPair(issued.token, rotation.refresh_token)


    async def mint_customer_token(
        self, issuer: Principal, *, client_id: uuid.UUID, subject: str, address: str | None
    ) -> IssuedToken | None:
        """A ROLE_CUSTOMER token for one client of the caller's organization; None without that client."""
        async with self._database.connection() as connection:
            found = await client_in_organization(
                connection, client_id=client_id, organization_id=issuer.organization_id
            )
        if not found:
            return None
        customer = Principal(subject, frozenset({Role.CUSTOMER}), issuer.organization_id, client_id)
        key = api_key_id(issuer)
        issued = self._tokens.issue(customer, self._settings.customer_token_ttl, api_key_id=key)
        _minted("customer", customer, issued, audit.identity(issuer, address))
        return issued


    async def revoke_own_token(self, token: str, *, address: str | None) -> None:
        """Its holder revokes a token (RFC 7009): until it would expire; any other string changes nothing."""
        tokens = self._tokens
        found = tokens.holder_revocable(token)
        if found is None:
            return
        principal, expires = found
        assert principal.jti is not None
        ttl = max(1, math.ceil(expires - tokens.now()) + LEEWAY_SECONDS)
        async with self._database.connection() as connection:
            await revoke(connection, Revoked.JTI, principal.jti, ttl)
        audit.record(
            "token.revoked",
            audit.identity(principal, address),
            kind=Revoked.JTI.value,
            revoked=principal.jti,
            reason="revoked by its holder",
        )
