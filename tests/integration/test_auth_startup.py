import os
import subprocess
import sys


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "KAFKA_", "JWT_"))}
    return subprocess.run(
        [sys.executable, "-m", "service", *args], env=clean | env, capture_output=True, text=True, timeout=60
    )


def test_api_refuses_to_start_without_a_signing_key() -> None:
    result = _run("api", env={"DATABASE_URL": "postgresql://x@localhost/db"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: JWT_PRIVATE_KEY is required but not set")


def test_api_refuses_a_short_hmac_secret() -> None:
    result = _run("api", env={"DATABASE_URL": "postgresql://x@localhost/db", "JWT_SECRET": "too-short"})
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: JWT_SECRET must be at least 32 bytes long"
