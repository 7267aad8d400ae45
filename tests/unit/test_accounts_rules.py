import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from service.accounts import changes, preconditions
from service.accounts import validation as rules
from service.accounts.listing import Ordering, decode_cursor, encode_cursor, parse_listing
from service.accounts.schema import AccountCreate, AccountPatch, StatusReport
from service.errors import BadRequest, Conflict, ConstraintViolations, Violation
from service.integrations.catalog import Catalog
from service.web import constraints
from service.web.bodies import decode

CATALOG = Catalog({"whatsapp", "linkedin"})
WHATSAPP = CATALOG.get("whatsapp")
LINKEDIN = CATALOG.get("linkedin")
assert WHATSAPP is not None and LINKEDIN is not None


def _row(**values: Any) -> dict[str, Any]:
    row = {
        "id": uuid.uuid4(),
        "name": "Michael",
        "headline": "Manager",
        "avatar": None,
        "external_id": "+1555",
        "settings": {"send": True},
        "metadata": {},
        "status": "connected",
        "status_reason": "verified",
    }
    return row | values


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png",
        "https://cdn.example.co.uk:8443/x/y?size=2#top",
        "HTTPS://EXAMPLE.COM/a",
        "https://[2001:db8::1]/a.png",
    ],
)
def test_https_urls_with_a_real_host_are_accepted(url: str) -> None:
    assert rules.is_https_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "ftp://example.com/a",
        "javascript:alert(1)",
        "https://",
        "https://localhost/a",
        "https://exa mple.com/a",
        "https://example.com:99999/a",
        "//example.com/a",
        "https://-bad-.com/a",
        "https://example.com/a\nb",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    assert not rules.is_https_url(url)


def test_credentials_must_match_one_required_set_of_the_integration() -> None:
    found: list[Violation] = []
    rules.check_credentials(LINKEDIN, {"username": "me", "token": "x", "password": " "}, found)
    assert [(v.property_path, v.code) for v in found] == [
        ("credentials[token]", constraints.NO_SUCH_FIELD),
        ("credentials[password]", constraints.NOT_BLANK),
    ]
    found = []
    rules.check_credentials(LINKEDIN, {"username": "me"}, found)
    assert [(v.property_path, v.message, v.code) for v in found] == [
        ("credentials[password]", "This field is missing.", constraints.MISSING_FIELD)
    ]
    found = []
    rules.check_credentials(LINKEDIN, {"cookie": "li_at=1"}, found)
    assert found == []


def test_missing_credentials_report_the_usual_set_and_never_values() -> None:
    found: list[Violation] = []
    rules.check_credentials(WHATSAPP, {"accessToken": "x" * 5000}, found)
    assert [(v.property_path, v.code) for v in found] == [
        ("credentials[accessToken]", constraints.TOO_LONG),
        ("credentials[phoneNumberId]", constraints.MISSING_FIELD),
    ]
    assert "xxxx" not in str(found)


def test_nul_characters_are_refused_wherever_they_hide() -> None:
    with pytest.raises(BadRequest, match='"settings"'):
        constraints.reject_nul("settings", {"a": [{"b": "c\x00"}]})
    with pytest.raises(BadRequest):
        constraints.reject_nul("metadata", {"key\x00": 1})
    constraints.reject_nul("name", "fine")


def test_json_objects_are_capped_by_their_encoded_size() -> None:
    found: list[Violation] = []
    rules.check_json_object("settings", {"a": "x" * rules.MAX_JSON_BYTES}, found)
    assert [(v.property_path, v.code) for v in found] == [("settings", constraints.TOO_LONG)]
    assert found[0].message == "This value is too long. It should have 16384 bytes or less."


def test_create_body_rejects_unknown_and_read_only_fields() -> None:
    for field in ("id", "version", "createdAt", "provider", "statusReason", "password"):
        with pytest.raises(BadRequest, match=f'Extra attributes are not allowed \\("{field}" is unknown\\)'):
            decode(msgspec.json.encode({"name": "x", field: "y"}), AccountCreate, "application/json")


def test_merge_patch_keeps_absent_fields_and_removes_nulled_ones() -> None:
    patch = AccountPatch(headline=None, settings=None, name="Dwight")
    change = changes.merge(_row(), patch, WHATSAPP)
    assert change.values["headline"] is None
    assert change.values["settings"] == {}
    assert change.values["external_id"] == "+1555"
    assert change.changed == ["name", "headline", "settings"]


def test_a_patch_that_changes_nothing_lists_no_change() -> None:
    row = _row()
    patch = AccountPatch(name="Michael", settings={"send": True}, status="connected")
    assert changes.merge(row, patch, WHATSAPP).changed == []


def test_new_credentials_send_the_account_back_to_connecting() -> None:
    patch = AccountPatch(credentials={"phoneNumberId": "1", "accessToken": "t"})
    change = changes.merge(_row(), patch, WHATSAPP)
    assert change.credentials == {"phoneNumberId": "1", "accessToken": "t"}
    assert change.values["status"] == "connecting"
    assert change.values["status_reason"] is None
    assert change.changed == ["credentials", "status", "statusReason"]


def test_new_credentials_are_checked_against_the_account_integration() -> None:
    with pytest.raises(ConstraintViolations) as raised:
        changes.merge(_row(), AccountPatch(credentials={"cookie": "x"}), WHATSAPP)
    assert [v.property_path for v in raised.value.violations] == [
        "credentials[cookie]",
        "credentials[phoneNumberId]",
        "credentials[accessToken]",
    ]


@pytest.mark.parametrize(
    ("current", "wanted", "allowed"),
    [
        ("connected", "paused", True),
        ("error", "paused", True),
        ("paused", "connecting", True),
        ("connected", "connecting", False),
        ("connected", "disconnected", False),
        ("paused", "connected", False),
        ("connecting", "error", False),
        ("connected", "bogus", False),
    ],
)
def test_owners_may_only_pause_and_resume(current: str, wanted: str, allowed: bool) -> None:
    patch = AccountPatch(status=wanted)
    if allowed:
        change = changes.merge(_row(status=current), patch, WHATSAPP)
        assert change.values["status"] == wanted
    else:
        with pytest.raises(BadRequest, match='"status" attribute is read-only'):
            changes.merge(_row(status=current), patch, WHATSAPP)


def test_status_reason_is_read_only_for_owners() -> None:
    with pytest.raises(BadRequest, match="statusReason"):
        changes.check_patch(AccountPatch(status_reason="because"))


def test_patch_field_rules_are_violations() -> None:
    with pytest.raises(ConstraintViolations) as raised:
        changes.check_patch(AccountPatch(name=" ", avatar="http://example.com/a", external_id="x" * 256))
    assert [(v.property_path, v.code) for v in raised.value.violations] == [
        ("name", constraints.NOT_BLANK),
        ("avatar", constraints.INVALID_URL),
        ("externalId", constraints.TOO_LONG),
    ]


def test_workers_report_status_with_an_optional_reason() -> None:
    report = StatusReport(status="error", status_reason="banned")
    change = changes.report(_row(status="connecting", status_reason=None), report)
    assert (change.values["status"], change.values["status_reason"]) == ("error", "banned")
    assert change.changed == ["status", "statusReason"]
    # A new status without a reason clears the previous reason.
    change = changes.report(_row(status="error", status_reason="banned"), StatusReport(status="connected"))
    assert change.values["status_reason"] is None
    assert change.changed == ["status", "statusReason"]


def test_workers_cannot_pause_nor_touch_a_paused_account() -> None:
    with pytest.raises(ConstraintViolations) as raised:
        changes.report(_row(), StatusReport(status="paused"))
    assert raised.value.violations[0].code == constraints.NO_SUCH_CHOICE
    with pytest.raises(Conflict):
        changes.report(_row(status="paused"), StatusReport(status="connected"))
    assert changes.report(_row(status="paused"), StatusReport(status="paused")).changed == []


@pytest.mark.parametrize(
    ("header", "version", "ok"),
    [
        (None, 3, True),
        ("*", 3, True),
        ('W/"3"', 3, True),
        ('"3"', 3, True),
        ("3", 3, True),
        ('W/"2", W/"3"', 3, True),
        ('W/"2"', 3, False),
        ("garbage", 3, False),
        ('W/"03x"', 3, False),
        ("", 3, False),
    ],
)
def test_if_match(header: str | None, version: int, ok: bool) -> None:
    assert preconditions.matches(header, version) is ok


def test_cursors_round_trip_and_belong_to_their_ordering() -> None:
    created = datetime(2025, 3, 27, 15, 0, 49, 123456, tzinfo=UTC)
    row = {"id": uuid.uuid4(), "name": "Zed", "created_at": created}
    by_date = Ordering("createdAt", descending=True)
    token = encode_cursor(by_date, row)
    assert "=" not in token and "+" not in token and "/" not in token
    cursor = decode_cursor(token, by_date)
    assert cursor is not None and cursor.keyset() == (row["created_at"], row["id"])
    by_name = Ordering("name")
    assert decode_cursor(encode_cursor(by_name, row), by_name).keyset() == ("Zed", row["id"])  # type: ignore[union-attr]
    with pytest.raises(BadRequest, match="another order"):
        decode_cursor(token, by_name)
    assert decode_cursor("", by_name) is None


@pytest.mark.parametrize("token", ["!!!", "abc", "kQ", "lAGnY3JlYXRlZEF0wsDAwA"])
def test_forged_cursors_are_400(token: str) -> None:
    with pytest.raises(BadRequest, match="cursor is invalid"):
        decode_cursor(token, Ordering())


def test_listing_reads_repeated_filters_in_both_spellings() -> None:
    listing = parse_listing(
        {
            "integration": ["whatsapp"],
            "integration[]": ["/api/integrations/linkedin"],
            "status[]": ["connected", "error"],
            "client": [f"/api/clients/{uuid.UUID(int=1)}", str(uuid.UUID(int=2)), "nonsense"],
            "name": ["50%_off\\"],
            "order[name]": ["DESC"],
            "itemsPerPage": ["5"],
        }
    )
    assert listing.integrations == ["whatsapp", "linkedin"]
    assert listing.statuses == ["connected", "error"]
    assert listing.clients == [uuid.UUID(int=1), uuid.UUID(int=2)]
    assert listing.name_pattern == "%50\\%\\_off\\\\%"
    assert listing.ordering == Ordering("name", descending=True)
    assert listing.page.items_per_page == 5
    assert not listing.cursor_mode


@pytest.mark.parametrize(
    "query",
    [
        {"order[name]": ["up"]},
        {"order[name]": ["asc"], "order[createdAt]": ["asc"]},
        {"cursor": [""], "page": ["2"]},
        {"cursor": ["", ""]},
        {"name": ["a", "b"]},
        {"name": ["a\x00"]},
        {"itemsPerPage": ["101"]},
        {"page": ["0"]},
    ],
)
def test_bad_collection_queries_are_400(query: dict[str, list[str]]) -> None:
    with pytest.raises(BadRequest):
        parse_listing(query)
