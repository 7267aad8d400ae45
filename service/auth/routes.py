"""HTTP endpoints of authentication: login_check, token refresh, customer tokens."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

import msgspec
from litestar import Response, post
from litestar.di import NamedDependency

from service.auth import login
from service.auth.audit import address_of
from service.auth.guards import API_KEY_ONLY, Caller
from service.auth.login import Sessions
from service.auth.refresh import refused
from service.errors import BadRequest, ConstraintViolations, Violation
from service.web.bodies import JSON_TYPES, decode
from service.web.constraints import BLANK, NOT_BLANK, NOT_BLANK_PATTERN, TOO_LONG, reject_nul, too_long
from service.web.headers import NO_STORE
from service.web.iri import CLIENT_IRI_PATTERN, item_not_found, parse_client_iri
from service.web.openapi import JsonBody
from service.web.resource import AnyRequest, JsonData
from service.web.responses import error_responses, success

T = TypeVar("T")
UseCases = NamedDependency[Sessions]
_encode = msgspec.json.Encoder().encode

MAX_SUBJECT = 255
MAX_TOKEN = login.MAX_TOKEN


class Credentials(msgspec.Struct):
    """The login body as documented: both keys are required strings (missing or null is a 400)."""

    username: str
    password: str


class LoginRequest(msgspec.Struct):
    __openapi__: ClassVar[type] = Credentials

    username: str | None = None
    password: str | None = None


class RefreshRequest(msgspec.Struct):
    refresh_token: str | None = None


_ACCESS_TOKEN_HELP = "An access token (JWT) this service issued"  # noqa: S105 - a description


class TokenToRevoke(msgspec.Struct):
    """The revocation body as documented: the access token, a required string."""

    token: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TOKEN, description=_ACCESS_TOKEN_HELP)]


class RevokeRequest(msgspec.Struct):
    __openapi__: ClassVar[type] = TokenToRevoke

    token: str | None = None


_CLIENT = 'IRI of one of the organization\'s clients, "/api/clients/{id}"'
_SUBJECT = "The host application's user id (1 to 255 characters)"


class CustomerTokenForm(msgspec.Struct):
    """The customer token body as documented; anything but a client IRI is a 400."""

    client: Annotated[str, msgspec.Meta(pattern=CLIENT_IRI_PATTERN, description=_CLIENT)]
    subject: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=MAX_SUBJECT, pattern=NOT_BLANK_PATTERN, description=_SUBJECT),
    ]


class CustomerTokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    __openapi__: ClassVar[type] = CustomerTokenForm

    client: Annotated[str, msgspec.Meta(description=_CLIENT)]
    subject: Annotated[str, msgspec.Meta(description=_SUBJECT)]


class TokenPairView(msgspec.Struct):
    token: str
    refresh_token: str


class CustomerTokenView(msgspec.Struct, rename="camel"):
    token: str
    expires_at: Annotated[str, msgspec.Meta(description="RFC 3339")]


def _body(request: AnyRequest, data: T | None, kind: type[T]) -> T:
    """An empty body never reaches the decoder; decoding it here gives the same 415 or 400."""
    return data if data is not None else decode(b"", kind, request.headers.get("content-type"), JSON_TYPES)


def _anonymous(
    body: type[Any], summary: str, description: str, responses: dict[int, Any], status: int = 200
) -> dict[str, Any]:
    """The keyword arguments of a log-in endpoint: no credentials needed, a JSON body."""
    return {
        "status_code": status,
        "tags": ["Login Check"],
        "summary": summary,
        "description": description,
        "dto": JsonBody[body],  # type: ignore[valid-type]
        "return_dto": None,
        "security": [],
        "responses": responses,
    }


def _json(document: dict[str, Any], status: int = 200) -> Response[bytes]:
    """Every answer of these endpoints carries a token: never stored by a cache."""
    return Response(_encode(document), status_code=status, media_type="application/json", headers=NO_STORE)


def _pair_operation(
    body: type[Any], summary: str, description: str, answer: str, refusal: str
) -> dict[str, Any]:
    """A log-in endpoint answering a token pair (`answer`), or a 401 saying `refusal`."""
    responses = {200: success(TokenPairView, answer), **error_responses(400, 401, 415, notes={401: refusal})}
    return _anonymous(body, summary, description, responses)


def _pair(pair: login.TokenPair) -> Response[bytes]:
    return _json({"token": pair.token, "refresh_token": pair.refresh_token})


_LOGIN_CHECK = (
    "Creates a user token.",
    "Wrong usernames and wrong passwords get the same 401; repeated failures get 429.",
    "An access token and a refresh token",
    "Invalid credentials.",
)
_REFRESH = (
    "Exchanges a refresh token for a new pair.",
    "The refresh token is spent; presenting it again revokes every token of its family.",
    "A new access token and the next refresh token",
    "Invalid JWT Refresh Token",
)


@post("/authentication/login_check", **_pair_operation(LoginRequest, *_LOGIN_CHECK))
async def login_check(
    request: AnyRequest, sessions: UseCases, data: JsonData[LoginRequest] = None
) -> Response[bytes]:
    """`{"username","password"}` → `{"token","refresh_token"}`; failures are throttled."""
    body = _body(request, data, LoginRequest)
    for key in ("username", "password"):
        if getattr(body, key) is None:
            raise BadRequest(f'The key "{key}" must be provided.')
    assert body.username is not None and body.password is not None
    pair = await sessions.log_in(
        username=body.username,
        password=body.password,
        address=request.client.host if request.client else "unknown",
    )
    return _pair(pair)


@post("/authentication/token/refresh", **_pair_operation(RefreshRequest, *_REFRESH))
async def token_refresh(
    request: AnyRequest, sessions: UseCases, data: JsonData[RefreshRequest] = None
) -> Response[bytes]:
    """`{"refresh_token"}` → `{"token","refresh_token"}`; the presented refresh token is spent."""
    body = _body(request, data, RefreshRequest)
    if not body.refresh_token:
        raise refused()
    pair = await sessions.refresh(body.refresh_token, address=address_of(request))
    return _pair(pair)


@post(
    "/api/tokens",
    opt=API_KEY_ONLY,
    status_code=201,
    tags=["Token"],
    summary="Creates a customer token for one client (embedded inbox).",
    description="With the organization's X-API-KEY: a short-lived ROLE_CUSTOMER token scoped to the client.",
    dto=JsonBody[CustomerTokenRequest],
    return_dto=None,
    security=[{"ApiKey": []}],
    responses={
        201: success(CustomerTokenView, "The customer token"),
        **error_responses(
            400, 401, 403, 415, 422, notes={403: "Not an API key", 400: "Malformed, or no such client"}
        ),
    },
)
async def customer_token(
    request: AnyRequest, principal: Caller, sessions: UseCases, data: JsonData[CustomerTokenRequest] = None
) -> Response[bytes]:
    """With the organization's X-API-KEY: a ROLE_CUSTOMER token scoped to one of its clients."""
    body = _body(request, data, CustomerTokenRequest)
    client_id = parse_client_iri(body.client)
    reject_nul("subject", body.subject)
    subject = body.subject.strip()
    if not subject:
        raise ConstraintViolations([Violation("subject", BLANK, NOT_BLANK)])
    if len(subject) > MAX_SUBJECT:
        raise ConstraintViolations([Violation("subject", too_long(MAX_SUBJECT), TOO_LONG)])
    issued = await sessions.mint_customer_token(
        principal, client_id=client_id, subject=subject, address=address_of(request)
    )
    if issued is None:
        raise item_not_found(body.client)
    return _json({"token": issued.token, "expiresAt": issued.expires_at.isoformat()}, 201)


@post(
    "/authentication/token/revoke",
    **_anonymous(
        RevokeRequest,
        "Revokes an access token (its holder logs out).",
        "As RFC 7009: holding the token is the authorization; an unknown, expired or already revoked "
        "token is answered the same, so nothing can be learnt from the answer. Other processes refuse "
        "the token within REVOCATION_REFRESH_SECONDS.",
        error_responses(400, 415),
        status=204,
    ),
)
async def token_revoke(request: AnyRequest, sessions: UseCases, data: JsonData[RevokeRequest] = None) -> None:
    """`{"token"}` → 204; the token is refused from the next request on."""
    body = _body(request, data, RevokeRequest)
    if not body.token:
        raise BadRequest('The key "token" must be provided.')
    reject_nul("token", body.token)
    if len(body.token) > MAX_TOKEN:
        raise BadRequest(f"The token is longer than {MAX_TOKEN} characters: not a token of this service.")
    await sessions.revoke_own_token(body.token, address=address_of(request))


route_handlers = [login_check, token_refresh, customer_token, token_revoke]
