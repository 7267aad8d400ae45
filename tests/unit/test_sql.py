import pytest

from service.db.sql import parse_queries


def test_sections_are_split_by_name() -> None:
    queries = parse_queries("-- name: one\nSELECT 1;\n\n-- name: two\nSELECT $1;\n")
    assert queries == {"one": "SELECT 1;", "two": "SELECT $1;"}


def test_unknown_name_fails_loudly() -> None:
    with pytest.raises(KeyError, match="no SQL query named 'three'"):
        parse_queries("-- name: one\nSELECT 1;")["three"]


def test_duplicate_name_is_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries("-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;")
