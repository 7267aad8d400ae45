"""The api refuses to start without a usable credential key ring, with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.accounts.keyring import load_cipher
from service.settings import SettingsError, load_settings

BASE = {"DATABASE_URL": "postgresql://x@localhost/db", "JWT_SECRET": "s" * 32}


def _api(**env: str) -> subprocess.CompletedProcess[str]:
    names = ("DATABASE_URL", "KAFKA_", "JWT_", "CREDENTIALS_KEYS", "INTEGRATIONS_AVAILABLE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return subprocess.run(
        [sys.executable, "-m", "service", "api"],
        env=clean | BASE | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_api_refuses_to_start_without_credential_keys() -> None:
    result = _api()
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: CREDENTIALS_KEYS is required but not set")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CREDENTIALS_KEYS": "k1:c2hvcnQ="}, "CREDENTIALS_KEYS key 'k1' must decode to 32 bytes"),
        ({"CREDENTIALS_KEYS": "no-colon"}, "CREDENTIALS_KEYS entry 1 must look like kid:base64key"),
        ({"INTEGRATIONS_AVAILABLE": "whatsapp,icq"}, "INTEGRATIONS_AVAILABLE names unknown"),
    ],
)
def test_api_refuses_bad_accounts_settings(env: dict[str, str], message: str) -> None:
    result = _api(**env)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"configuration error: {message}")
    assert "c2hvcnQ" not in result.stderr


def test_the_key_ring_is_required_only_where_credentials_are_handled() -> None:
    settings = load_settings(BASE)
    assert settings.integrations_available == "whatsapp"
    with pytest.raises(SettingsError, match=r"^CREDENTIALS_KEYS is required"):
        load_cipher(settings)
