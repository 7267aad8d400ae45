import uuid
from datetime import datetime
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient

from service.auth.principal import Principal, Role
from service.auth.tokens import TokenService
from service.settings import Settings
from tests.identity import Tenants

Client = AsyncTestClient
TOKENS = "/api/tokens"


def _body(client_id: uuid.UUID | str, subject: str = "host-user-42") -> dict[str, str]:
    return {"client": f"/api/clients/{client_id}", "subject": subject}


async def test_api_key_mints_a_customer_token_for_its_client(
    client: Client, tenants: Tenants, settings: Settings
) -> None:
    client_id = tenants.a.client_ids[1]
    response = await client.post(TOKENS, json=_body(client_id), headers={"X-API-KEY": tenants.a.api_key})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expiresAt"}
    principal = TokenService.from_settings(settings).verify(body["token"])
    assert principal == Principal(
        "host-user-42", frozenset({Role.CUSTOMER}), tenants.a.organization_id, client_id
    )
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["client"] == str(client_id)
    assert datetime.fromisoformat(body["expiresAt"]).timestamp() == claims["exp"]
    assert body["expiresAt"].endswith("+00:00")


async def test_another_organizations_client_is_not_found(client: Client, tenants: Tenants) -> None:
    response = await client.post(
        TOKENS, json=_body(tenants.b.client_ids[0]), headers={"X-API-KEY": tenants.a.api_key}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f'Item not found for "/api/clients/{tenants.b.client_ids[0]}".'


async def test_missing_client_is_indistinguishable(client: Client, tenants: Tenants) -> None:
    missing = uuid.uuid4()
    response = await client.post(TOKENS, json=_body(missing), headers={"X-API-KEY": tenants.a.api_key})
    assert response.status_code == 400
    assert response.json()["detail"] == f'Item not found for "/api/clients/{missing}".'


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"client": "/api/accounts/1", "subject": "x"}, 400),
        ({"client": "/api/clients/not-a-uuid", "subject": "x"}, 400),
        ({"subject": "x"}, 400),
        ({"client": "/api/clients/00000000-0000-0000-0000-000000000000"}, 400),
        ({"client": "/api/clients/00000000-0000-0000-0000-000000000000", "subject": 5}, 400),
        ({"client": "/api/clients/00000000-0000-0000-0000-000000000000", "subject": "x", "ttl": 9}, 400),
    ],
)
async def test_malformed_requests_are_400(
    client: Client, tenants: Tenants, body: dict[str, Any], status: int
) -> None:
    response = await client.post(TOKENS, json=body, headers={"X-API-KEY": tenants.a.api_key})
    assert response.status_code == status


@pytest.mark.parametrize(("subject", "message"), [("  ", "should not be blank"), ("s" * 256, "too long")])
async def test_bad_subject_is_a_violation(
    client: Client, tenants: Tenants, subject: str, message: str
) -> None:
    response = await client.post(
        TOKENS, json=_body(tenants.a.client_ids[0], subject), headers={"X-API-KEY": tenants.a.api_key}
    )
    assert response.status_code == 422
    assert response.json()["violations"][0]["propertyPath"] == "subject"
    assert message in response.json()["violations"][0]["message"]


@pytest.mark.parametrize("role", ["owner", "viewer", "customer"])
async def test_user_and_customer_tokens_cannot_mint(
    client: Client, tenants: Tenants, token_for: Any, role: str
) -> None:
    token = token_for(getattr(tenants.a, role))
    response = await client.post(
        TOKENS, json=_body(tenants.a.client_ids[0]), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


async def test_without_credentials_is_401(client: Client, tenants: Tenants) -> None:
    response = await client.post(TOKENS, json=_body(tenants.a.client_ids[0]))
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "JWT Token not found"}
