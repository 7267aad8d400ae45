"""Allowed browser origins: how they are normalised, and the in-memory directory's bookkeeping."""

from __future__ import annotations

import uuid

import pytest

from service.errors import ConstraintViolations
from service.organizations.directory import OriginDirectory
from service.organizations.origins import normalised_origin, validated_origins


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://Inbox.Example.COM", "https://inbox.example.com"),
        ("https://inbox.example.com:443", "https://inbox.example.com"),
        ("http://localhost:80", "http://localhost"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ("https://inbox.example.com:8443", "https://inbox.example.com:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(given: str, stored: str) -> None:
    assert normalised_origin(given) == stored


@pytest.mark.parametrize(
    "refused", ["http://127.0.0.1:05173", "https://a.example:0", "https://a.example:65536", "https://a.example\n"]
)
def test_ports_browsers_never_send_are_refused(refused: str) -> None:
    assert normalised_origin(refused) is None


def test_duplicates_collapse_and_order_is_kept() -> None:
    kept = validated_origins(["https://b.example", "https://a.example", "HTTPS://B.example:443"])
    assert kept == ["https://b.example", "https://a.example"]


def test_every_bad_entry_is_reported() -> None:
    with pytest.raises(ConstraintViolations) as raised:
        validated_origins(["https://ok.example", "*", "https://ok.example/path"])
    assert [v.property_path for v in raised.value.violations] == ["allowedOrigins[1]", "allowedOrigins[2]"]


def test_long_input_is_refused_without_matching() -> None:
    assert normalised_origin("https://" + "a." * 50_000 + "example") is None


def test_directory_replaces_one_organizations_list() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    directory = OriginDirectory(refresh_seconds=5)
    directory.replace(a, ["https://shared.example", "https://a.example"])
    directory.replace(b, ["https://shared.example"])
    assert directory.organizations_allowing("https://shared.example") == {a, b}
    directory.replace(a, ["https://a2.example"])
    assert directory.organizations_allowing("https://shared.example") == {b}
    assert directory.organizations_allowing("https://a.example") == frozenset()
    assert directory.organizations_allowing("https://a2.example") == {a}
