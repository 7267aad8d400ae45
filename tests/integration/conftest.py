"""Fixtures that several integration modules share."""

from __future__ import annotations

import pytest

from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import event_settings
from tests.integration.webhooks_support import wh_api_fixture, wh_settings_fixture

__all__ = ["wh_api_fixture", "wh_settings_fixture"]


@pytest.fixture
async def relay_settings(settings: Settings) -> Settings:
    """Settings with topics of the test's own, created up front so test consumers never race the relay."""
    mine = event_settings(settings)
    await ensure_topics(mine)
    return mine
