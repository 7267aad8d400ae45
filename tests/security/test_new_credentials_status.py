"""New credentials always send an account back to `connecting` with no reason: no PATCH can keep an
old verdict (`connected`, a reason) on credentials no worker has checked yet."""

from __future__ import annotations

from typing import Any

import pytest

from service.accounts.changes import NEW_CREDENTIALS_STATUS
from service.auth.principal import Principal
from service.web import constraints
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import JSON, Api, new_account

NEW = {"phoneNumberId": "2222", "accessToken": "replacement-access"}


@pytest.fixture
async def connected(api: Api, tenants: Tenants) -> str:
    """An account a worker has verified: `connected`, with a reason."""
    account = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{account['id']}"
    report = await api.patch(WORKER, path, {"status": "connected", "statusReason": "verified 09:00"}, JSON)
    assert report.json()["status"] == "connected"
    return path


def _callers(tenants: Tenants) -> list[Principal]:
    return [tenants.a.owner, tenants.a.customer]


@pytest.mark.parametrize("status", ["connected", "paused", "error", "disconnected"])
async def test_new_credentials_with_another_status_are_refused_and_change_nothing(
    api: Api, tenants: Tenants, connected: str, status: str
) -> None:
    for caller in _callers(tenants):
        response = await api.patch(caller, connected, {"credentials": NEW, "status": status}, JSON)
        assert response.status_code == 422, response.text
        [violation] = response.json()["violations"]
        assert (violation["propertyPath"], violation["message"]) == ("status", NEW_CREDENTIALS_STATUS)
        assert violation["code"] == constraints.NO_SUCH_CHOICE
    stored = (await api.get(tenants.a.owner, connected, JSON)).json()
    assert (stored["status"], stored["statusReason"], stored["version"]) == ("connected", "verified 09:00", 2)
    assert (await api.get(WORKER, f"{connected}/credentials", JSON)).json()["credentials"] != NEW


@pytest.mark.parametrize("extra", [{}, {"status": "connecting"}, {"name": "Renamed"}])
async def test_new_credentials_mean_connecting_and_no_reason(
    api: Api, tenants: Tenants, connected: str, extra: dict[str, Any]
) -> None:
    response = await api.patch(tenants.a.customer, connected, {"credentials": NEW, **extra}, JSON)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["statusReason"]) == ("connecting", None)
    assert (await api.get(WORKER, f"{connected}/credentials", JSON)).json()["credentials"] == NEW


async def test_the_reason_is_cleared_even_when_the_account_was_already_connecting(
    api: Api, tenants: Tenants, connected: str
) -> None:
    retrying = await api.patch(WORKER, connected, {"status": "connecting", "statusReason": "retrying"}, JSON)
    assert retrying.json()["statusReason"] == "retrying"
    response = await api.patch(tenants.a.owner, connected, {"credentials": NEW}, JSON)
    assert (response.json()["status"], response.json()["statusReason"]) == ("connecting", None)
