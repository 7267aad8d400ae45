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


def test_fragments_are_written_once_and_expanded_where_used() -> None:
    queries = parse_queries(
        "-- fragment: columns\na.id, a.name\n\n"
        "-- name: one\nSELECT {{columns}} FROM accounts a;\n"
        "-- name: two\nUPDATE accounts a SET name = $2 RETURNING {{columns}};\n"
    )
    assert queries == {
        "one": "SELECT a.id, a.name FROM accounts a;",
        "two": "UPDATE accounts a SET name = $2 RETURNING a.id, a.name;",
    }


def test_an_undefined_fragment_is_refused() -> None:
    with pytest.raises(ValueError, match="columns"):
        parse_queries("-- name: one\nSELECT {{columns}} FROM accounts;\n-- fragment: columns\nid\n")
