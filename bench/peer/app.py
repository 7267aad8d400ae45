"""GET /api/accounts/{id} and POST /api/accounts, FastAPI style; `uvicorn bench.peer.app:app`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bench.peer.auth import CUSTOMER, OWNER, VIEWER, WORKER, Principal, require_roles
from bench.peer.config import Config, current_config, get_config
from bench.peer.db import get_session, make_engine, make_sessions
from bench.peer.models import Account, Client, OutboxEvent
from bench.peer.schemas import AccountCreate, AccountDocument, AccountFields

RELAY_CHANNEL = "accounts_outbox"
CLIENT_PREFIX = "/api/clients/"


class JSONLDResponse(JSONResponse):
    media_type = "application/ld+json; charset=utf-8"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.config = get_config()
    engine = make_engine(app.state.config)
    app.state.sessions = make_sessions(engine)
    yield
    await engine.dispose()


app = FastAPI(title="accounts (peer)", lifespan=lifespan, default_response_class=JSONLDResponse)

Session = Annotated[AsyncSession, Depends(get_session)]
Reader = Annotated[Principal, Depends(require_roles(OWNER, VIEWER, CUSTOMER, WORKER))]
Writer = Annotated[Principal, Depends(require_roles(OWNER, CUSTOMER))]
Settings = Annotated[Config, Depends(current_config)]


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")


def _describe(response: Response, account: Account) -> AccountDocument:
    response.headers["ETag"] = f'W/"{account.version}"'
    response.headers["Vary"] = "Accept"
    return AccountDocument.of(account)


@app.get("/api/accounts/{account_id}", response_model=AccountDocument)
async def get_account(
    account_id: str, principal: Reader, session: Session, response: Response
) -> AccountDocument:
    try:
        key = uuid.UUID(account_id)
    except ValueError:
        raise _not_found() from None
    query = select(Account).where(Account.id == key, Account.deleted_at.is_(None))
    if principal.organization_id is not None:
        query = query.where(Account.organization_id == principal.organization_id)
    if principal.client_id is not None:
        query = query.where(Account.client_id == principal.client_id)
    account = await session.scalar(query)
    if account is None:
        raise _not_found()
    return _describe(response, account)


async def _client_of(session: AsyncSession, principal: Principal, iri: str | None) -> uuid.UUID:
    """The customer's own client, or one of the owner's organization named by its IRI."""
    if iri is None:
        if principal.client_id is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "client: This value should not be null."
            )
        return principal.client_id
    try:
        client_id = uuid.UUID(iri.removeprefix(CLIENT_PREFIX)) if iri.startswith(CLIENT_PREFIX) else None
    except ValueError:
        client_id = None
    if client_id is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f'Invalid IRI "{iri}".')
    if principal.client_id is not None:
        visible = client_id == principal.client_id
    else:
        client = await session.get(Client, client_id)
        visible = client is not None and client.organization_id == principal.organization_id
    if not visible:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f'Item not found for "{iri}".')
    return client_id


@app.post("/api/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountDocument)
async def create_account(
    body: AccountCreate, principal: Writer, session: Session, config: Settings, response: Response
) -> AccountDocument:
    if principal.organization_id is None:
        raise _not_found()
    client_id = await _client_of(session, principal, body.client)
    integration = config.catalog.get(body.integration)
    assert integration is not None
    account_id = uuid.uuid4()
    sealed = config.cipher.seal(account_id, body.credentials)
    account = Account(
        id=account_id,
        organization_id=principal.organization_id,
        client_id=client_id,
        integration=integration.slug,
        provider=integration.provider,
        type=integration.type,
        name=body.name,
        headline=body.headline,
        avatar=body.avatar,
        external_id=body.external_id,
        status=body.status or "connecting",
        settings=body.settings or {},
        metadata_=body.metadata or {},
        credentials=sealed.ciphertext,
        credentials_key_id=sealed.key_id,
    )
    session.add(account)
    try:
        await session.flush()
        session.add(
            OutboxEvent(
                event_id=uuid.uuid4(),
                event_type="account.connected",
                account_id=account.id,
                organization_id=account.organization_id,
                client_id=account.client_id,
                account_version=account.version,
                payload=AccountFields.of(account).model_dump(mode="json"),
            )
        )
        await session.execute(select(func.pg_notify(RELAY_CHANNEL, "")))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "externalId: This value is already used."
        ) from None
    response.headers["Location"] = f"/api/accounts/{account.id}"
    return _describe(response, account)
