import pytest

from service.settings import SettingsError, load_settings

URL = "postgresql://app@localhost/accounts"


def test_defaults_fill_everything_but_the_database() -> None:
    settings = load_settings({"DATABASE_URL": URL})
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert not settings.kafka_enabled


def test_values_are_converted_from_strings() -> None:
    settings = load_settings({"DATABASE_URL": URL, "PORT": "9000", "DB_ACQUIRE_TIMEOUT": "1.5"})
    assert (settings.port, settings.db_acquire_timeout) == (9000, 1.5)


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_URL is required but not set$"):
        load_settings({})


def test_wrong_type_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^PORT is invalid: Expected `int`, got `str`$"):
        load_settings({"DATABASE_URL": URL, "PORT": "eighty"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "0"),
        ("WEB_CONCURRENCY", "-1"),
        ("ACCESS_LOG", "some"),
        ("ACCESS_LOG_SAMPLE_RATE", "1.5"),
        ("DB_POOL_MAX_SIZE", "0"),
        ("DB_ACQUIRE_TIMEOUT", "-1"),
        ("LOG_LEVEL", "LOUD"),
        ("DATABASE_URL", "mysql://x"),
    ],
)
def test_out_of_range_value_is_named(variable: str, value: str) -> None:
    env = {"DATABASE_URL": URL, variable: value}
    with pytest.raises(SettingsError, match=rf"^{variable} "):
        load_settings(env)


def test_empty_variable_counts_as_unset() -> None:
    assert load_settings({"DATABASE_URL": URL, "PORT": ""}).port == 8000
