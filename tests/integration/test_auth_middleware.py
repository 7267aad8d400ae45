from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from litestar import get
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth.guards import requires
from service.auth.principal import Principal, Role
from service.settings import Settings
from tests.identity import WORKER, Tenants

TokenFor = Callable[..., str]


@get("/api/_whoami", opt=requires(Role.OWNER, Role.WORKER), sync_to_thread=False)
def whoami(principal: NamedDependency[Principal]) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "roles": sorted(principal.roles),
        "org": str(principal.organization_id),
        "client": str(principal.client_id),
    }


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    """The real application, plus one guarded route that echoes the caller."""
    app = create_app(settings)
    app.register(whoami)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def _lexik(response: Any, message: str) -> None:
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": message}
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer"}],
)
async def test_missing_token_is_jwt_token_not_found(api: AsyncTestClient, headers: dict[str, str]) -> None:
    _lexik(await api.get("/api/_whoami", headers=headers), "JWT Token not found")


async def test_garbage_token_is_invalid(api: AsyncTestClient) -> None:
    response = await api.get("/api/_whoami", headers={"Authorization": "Bearer abc.def.ghi"})
    _lexik(response, "Invalid JWT Token")


async def test_expired_token_is_expired(api: AsyncTestClient, token_for: TokenFor, tenants: Tenants) -> None:
    token = token_for(tenants.a.owner, ttl=-120)
    _lexik(await api.get("/api/_whoami", headers={"Authorization": f"Bearer {token}"}), "Expired JWT Token")


async def test_valid_token_becomes_the_principal(
    api: AsyncTestClient, token_for: TokenFor, tenants: Tenants
) -> None:
    token = token_for(tenants.a.owner)
    response = await api.get("/api/_whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {
        "subject": str(tenants.a.owner_id),
        "roles": ["ROLE_OWNER"],
        "org": str(tenants.a.organization_id),
        "client": "None",
    }


async def test_worker_token_is_platform_wide(api: AsyncTestClient, token_for: TokenFor) -> None:
    response = await api.get("/api/_whoami", headers={"Authorization": f"Bearer {token_for(WORKER)}"})
    assert response.status_code == 200
    assert response.json()["org"] == "None"


async def test_api_key_acts_as_owner_of_its_organization(api: AsyncTestClient, tenants: Tenants) -> None:
    response = await api.get("/api/_whoami", headers={"X-API-KEY": tenants.b.api_key})
    assert response.status_code == 200
    assert response.json()["roles"] == ["ROLE_OWNER"]
    assert response.json()["org"] == str(tenants.b.organization_id)


async def test_unknown_and_revoked_api_keys_are_refused(
    api: AsyncTestClient, tenants: Tenants, db: asyncpg.Connection
) -> None:
    _lexik(await api.get("/api/_whoami", headers={"X-API-KEY": "ak_nope"}), "Invalid credentials.")
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", tenants.a.api_key_id)
    _lexik(await api.get("/api/_whoami", headers={"X-API-KEY": tenants.a.api_key}), "Invalid credentials.")


@pytest.mark.parametrize("role", ["viewer", "customer"])
async def test_guard_refuses_other_roles_with_403(
    api: AsyncTestClient, token_for: TokenFor, tenants: Tenants, role: str
) -> None:
    principal = getattr(tenants.a, role)
    response = await api.get(
        "/api/_whoami",
        headers={"Authorization": f"Bearer {token_for(principal)}", "Accept": "application/json"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "/errors/403",
        "title": "An error occurred",
        "status": 403,
        "detail": "Access Denied.",
    }


@pytest.mark.parametrize("path", ["/healthz", "/api/docs/openapi.json"])
async def test_public_paths_need_no_credentials(api: AsyncTestClient, path: str) -> None:
    assert (await api.get(path)).status_code == 200
