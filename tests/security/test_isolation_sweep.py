"""Tenant isolation, swept over every operation of the OpenAPI document: callers of another organization,
another client and lower roles aim at one victim's account and client. Each gets the SPEC's refusal
(404 for ids it may not see, 403 for a role that may not act, 400 for a client IRI it may not use), the
refusal reads exactly as for an id that never existed, and no row or event changes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.auth.principal import Principal
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import new_account
from tests.security.support import row_counts

Client = AsyncTestClient  # type: ignore[type-arg]
METHODS = ("get", "post", "patch", "put", "delete")
# Public operations: nobody is signed in, so there is no tenant to cross (tests/integration/test_auth_*).
PUBLIC = ("/authentication/",)
CALLERS = ("other organization", "other organization's key", "other client", "viewer", "customer", "worker")
ALLOWED = None  # the SPEC lets this caller do it: not a refusal, covered by the CRUD tests
WEBHOOK = {"url": "https://hooks.example.com/accounts", "events": ["*"]}

# The SPEC's answer per operation and caller, aimed at the victim (client 0 of organization a). A 200 on a
# read is checked for leaks instead of changes. Every documented operation must be listed here.
EXPECTED: dict[tuple[str, str], dict[str, int | None]] = {
    ("GET", "/api/accounts"): dict.fromkeys(CALLERS, 200) | {"viewer": ALLOWED, "customer": ALLOWED,
                                                              "worker": ALLOWED},
    ("POST", "/api/accounts"): {"other organization": 400, "other organization's key": 400,
                                "other client": 400, "viewer": 403, "customer": ALLOWED, "worker": 403},
    ("GET", "/api/accounts/{account_id}"): {"other organization": 404, "other organization's key": 404,
                                            "other client": 404, "viewer": ALLOWED, "customer": ALLOWED,
                                            "worker": ALLOWED},
    ("PATCH", "/api/accounts/{account_id}"): {"other organization": 404, "other organization's key": 404,
                                              "other client": 404, "viewer": 403, "customer": ALLOWED,
                                              "worker": ALLOWED},
    ("DELETE", "/api/accounts/{account_id}"): {"other organization": 404, "other organization's key": 404,
                                               "other client": 404, "viewer": 403, "customer": ALLOWED,
                                               "worker": 403},
    ("GET", "/api/accounts/{account_id}/credentials"): dict.fromkeys(CALLERS, 403) | {"worker": ALLOWED},
    ("GET", "/api/integrations"): dict.fromkeys(CALLERS, 200),
    ("GET", "/api/integrations/{slug}"): dict.fromkeys(CALLERS, 200),
    ("GET", "/api/clients"): {"other organization": 200, "other organization's key": 200, "other client": 403,
                              "viewer": ALLOWED, "customer": 403, "worker": 403},
    ("POST", "/api/clients"): {"other organization": ALLOWED, "other organization's key": ALLOWED,
                               "other client": 403, "viewer": 403, "customer": 403, "worker": 403},
    ("GET", "/api/clients/{client_id}"): {"other organization": 404, "other organization's key": 404,
                                          "other client": 403, "viewer": ALLOWED, "customer": 403,
                                          "worker": 403},
    ("PATCH", "/api/clients/{client_id}"): {"other organization": 404, "other organization's key": 404,
                                            "other client": 403, "viewer": 403, "customer": 403,
                                            "worker": 403},
    ("DELETE", "/api/clients/{client_id}"): {"other organization": 404, "other organization's key": 404,
                                             "other client": 403, "viewer": 403, "customer": 403,
                                             "worker": 403},
    ("GET", "/api/organizations/{organization_id}"): {"other organization": 404,
                                                      "other organization's key": 404, "other client": 403,
                                                      "viewer": 403, "customer": 403, "worker": 403},
    ("PATCH", "/api/organizations/{organization_id}"): {"other organization": 404,
                                                        "other organization's key": 404, "other client": 403,
                                                        "viewer": 403, "customer": 403, "worker": 403},
    ("POST", "/api/tokens"): {"other organization": 403, "other organization's key": 400,
                              "other client": 403, "viewer": 403, "customer": 403, "worker": 403},
    **{(method, f"/api/webhook_endpoints{path}"): {"other organization": 404, "other organization's key": 404,
                                                    "other client": 403, "viewer": viewer, "customer": 403,
                                                    "worker": 403}
       for method, path, viewer in [
           ("GET", "/{endpoint_id}", ALLOWED), ("PATCH", "/{endpoint_id}", 403),
           ("DELETE", "/{endpoint_id}", 403), ("POST", "/{endpoint_id}/rotate_secret", 403),
           ("GET", "/{endpoint_id}/deliveries", ALLOWED),
           ("GET", "/{endpoint_id}/deliveries/{delivery_id}", ALLOWED),
           ("POST", "/{endpoint_id}/deliveries/{delivery_id}/retry", 403),
           ("POST", "/{endpoint_id}/replay", 403)]},
    ("GET", "/api/webhook_endpoints"): {"other organization": 200, "other organization's key": 200,
                                        "other client": 403, "viewer": ALLOWED, "customer": 403,
                                        "worker": 403},
    ("POST", "/api/webhook_endpoints"): {"other organization": ALLOWED, "other organization's key": ALLOWED,
                                         "other client": 403, "viewer": 403, "customer": 403, "worker": 403},
}  # fmt: skip


@dataclass(frozen=True)
class Victim:
    account_id: str
    client_id: str
    organization_id: str = ""
    # The victim organization's webhook endpoint and a delivery of the account's event to it.
    endpoint_id: str = ""
    delivery_id: str = ""


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/api/docs/openapi.json")).json()
    return body


@pytest.fixture
async def victim(
    client: Client, tenants: Tenants, token_for: Callable[..., str], db: asyncpg.Connection
) -> Victim:
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    hook = await client.post("/api/webhook_endpoints", json=WEBHOOK, headers=owner)
    assert hook.status_code == 201, hook.text
    created = await client.post("/api/accounts", json=new_account(tenants.a, 0), headers=owner)
    assert created.status_code == 201, created.text
    delivery = await db.fetchval("SELECT id::text FROM webhook_deliveries")
    return Victim(
        created.json()["id"],
        str(tenants.a.client_ids[0]),
        str(tenants.a.organization_id),
        hook.json()["id"],
        delivery,
    )


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS and not path.startswith(PUBLIC)
    ]


def _credentials(caller: str, tenants: Tenants, token_for: Callable[..., str]) -> dict[str, str]:
    if caller == "other organization's key":
        return {"X-API-KEY": tenants.b.api_key}
    principal: Principal = {
        "other organization": tenants.b.owner,
        "other client": tenants.a.customer_of(1),
        "viewer": tenants.a.viewer,
        "customer": tenants.a.customer_of(0),
        "worker": WORKER,
    }[caller]
    return {"Authorization": f"Bearer {token_for(principal)}"}


def _request(method: str, template: str, victim: Victim) -> dict[str, Any]:
    """The call aimed at these ids: in the path, and as the client IRI where a body names one."""
    account_id, client_id = victim.account_id, victim.client_id
    path = template.replace("{account_id}", account_id).replace("{client_id}", client_id)
    path = path.replace("{organization_id}", victim.organization_id)
    path = path.replace("{endpoint_id}", victim.endpoint_id).replace("{delivery_id}", victim.delivery_id)
    path = path.replace("{slug}", "whatsapp")
    client_iri = f"/api/clients/{client_id}"
    body: dict[str, Any] | None = {
        ("POST", "/api/accounts"): new_account(client=client_iri, externalId="+15550199"),
        ("PATCH", "/api/accounts/{account_id}"): {"name": "Taken over", "status": "paused"},
        ("POST", "/api/clients"): {"name": "Planted"},
        ("PATCH", "/api/clients/{client_id}"): {"name": "Taken over"},
        ("POST", "/api/tokens"): {"client": client_iri, "subject": "intruder"},
        ("PATCH", "/api/organizations/{organization_id}"): {"allowedOrigins": ["https://intruder.example"]},
        ("POST", "/api/webhook_endpoints"): WEBHOOK,
        ("PATCH", "/api/webhook_endpoints/{endpoint_id}"): {"url": "https://attacker.example.com/x"},
        ("POST", "/api/webhook_endpoints/{endpoint_id}/replay"): {"since": "2000-01-01T00:00:00Z"},
    }.get((method, template))
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    return {
        "method": method,
        "url": path,
        "content": json.dumps(body).encode() if body is not None else None,
        "headers": {"Content-Type": content_type, "Accept": "application/json"} if body is not None else {},
    }


async def _victim_rows(db: asyncpg.Connection, victim: Victim) -> list[Any]:
    return [
        dict(row)
        for row in await db.fetch(
            "SELECT * FROM accounts WHERE id = $1::uuid UNION ALL"
            " SELECT * FROM accounts WHERE client_id = $2::uuid AND id <> $1::uuid",
            victim.account_id,
            victim.client_id,
        )
    ] + [
        dict(row)
        for query, key in [
            ("SELECT * FROM clients WHERE id = $1::uuid", victim.client_id),
            ("SELECT * FROM webhook_endpoints WHERE id = $1::uuid", victim.endpoint_id),
            ("SELECT * FROM webhook_deliveries WHERE endpoint_id = $1::uuid", victim.endpoint_id),
        ]
        for row in await db.fetch(query, key)
    ]


def _without(text: str, *ids: str) -> str:
    for value in ids:
        text = text.replace(value, "<id>")
    return re.sub(r'"(requestId|traceId)":"[^"]*"', "", text)


def test_every_documented_operation_has_an_expectation(document: dict[str, Any]) -> None:
    assert set(_operations(document)) == set(EXPECTED)
    assert all(set(callers) == set(CALLERS) for callers in EXPECTED.values())


@pytest.mark.parametrize("caller", CALLERS)
async def test_sweep(
    client: Client,
    tenants: Tenants,
    token_for: Callable[..., str],
    db: asyncpg.Connection,
    document: dict[str, Any],
    victim: Victim,
    caller: str,
) -> None:
    credentials = _credentials(caller, tenants, token_for)
    never = Victim(*(str(uuid.uuid4()) for _ in range(5)))
    mismatches: list[str] = []
    for method, template in _operations(document):
        expected = EXPECTED[(method, template)][caller]
        if expected is ALLOWED:
            continue
        label = f"{caller}: {method} {template}"
        rows, victim_rows = await row_counts(db), await _victim_rows(db, victim)
        aimed = _request(method, template, victim)
        response: httpx.Response = await client.request(
            **aimed | {"headers": aimed["headers"] | credentials}
        )
        if response.status_code != expected:
            mismatches.append(f"{label}: {response.status_code} instead of {expected}: {response.text[:200]}")
            continue
        assert await _victim_rows(db, victim) == victim_rows, f"{label} changed the victim's rows"
        if expected >= 400:
            assert await row_counts(db) == rows, f"{label} changed rows while refused"
            # Indistinguishable from aiming at ids that never existed: no existence leak.
            missing = _request(method, template, never)
            other = await client.request(**missing | {"headers": missing["headers"] | credentials})
            seen = (response.status_code, _without(response.text, *astuple(victim)))
            unseen = (other.status_code, _without(other.text, *astuple(never)))
            assert seen == unseen, f"{label}: the victim's ids answer differently from unknown ones"
        else:
            assert victim.account_id not in response.text, f"{label} showed the victim's account"
            assert victim.client_id not in response.text, f"{label} showed the victim's client"
    assert not mismatches, "\n".join(mismatches)
