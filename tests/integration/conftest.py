"""Fixtures that several integration modules share."""

from tests.integration.webhooks_support import wh_api_fixture, wh_settings_fixture

__all__ = ["wh_api_fixture", "wh_settings_fixture"]
