import os
import subprocess
import sys


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_setting_stops_with_one_clear_line() -> None:
    result = _run("migrate", env={})
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: DATABASE_URL is required but not set"


def test_invalid_setting_names_the_variable() -> None:
    result = _run("api", env={"DATABASE_URL": "postgresql://x@localhost/db", "PORT": "http"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: PORT is invalid")


def test_migrate_command_applies_then_reports_up_to_date(database_url: str) -> None:
    result = _run("migrate", env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert "0 applied, database is up to date" in result.stderr
