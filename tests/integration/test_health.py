import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


async def test_liveness_needs_nothing(client: AsyncTestClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_and_kafka_answer(client: AsyncTestClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "kafka": "ok"}


async def test_not_ready_names_the_unreachable_broker(settings: Settings) -> None:
    # Nothing listens on port 1 of the loopback: the probe must say so instead of hanging.
    broken = msgspec.structs.replace(settings, kafka_bootstrap_servers="127.0.0.1:1")
    async with AsyncTestClient(app=create_app(broken)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "kafka": "unreachable"}


async def test_openapi_document_is_served(client: AsyncTestClient) -> None:
    response = await client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Accounts API"


async def test_unknown_route_is_a_problem_document(client: AsyncTestClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
