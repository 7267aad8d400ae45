"""Property-based fuzzing of what reads client input before any handler logic: the JSON body decoder, query
parsing, cursors, content negotiation, If-Match, Idempotency-Key and IRIs. Whatever comes in, the
answer is a value or the documented 4xx error, never another exception."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.accounts import idempotency, preconditions
from service.accounts.listing import Ordering, decode_cursor, encode_cursor, parse_listing
from service.accounts.schema import AccountCreate, AccountPatch
from service.accounts.validation import is_https_url
from service.auth.routes import CustomerTokenRequest, LoginRequest, RefreshRequest
from service.clients.schema import ClientCreate, ClientPatch, is_web_url
from service.errors import BadRequest, NotAcceptable, UnsupportedMediaType
from service.web.bodies import JSON_TYPES, MAX_DEPTH, MERGE_PATCH, decode, nested_deeper_than
from service.web.formats import Format, negotiate
from service.web.iri import CLIENT_IRI_PATTERN, parse_client_iri
from service.web.pagination import MAX_ITEMS_PER_PAGE, MAX_PAGE, parse_page

FUZZ = settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
BODIES = (AccountCreate, AccountPatch, ClientCreate, ClientPatch, LoginRequest, RefreshRequest)
BODIES += (CustomerTokenRequest,)
PATCHES = (AccountPatch, ClientPatch)
FIELDS = sorted({name for kind in BODIES for name in kind.__struct_encode_fields__})
QUERY_NAMES = (
    "page", "itemsPerPage", "cursor", "integration", "integration[]", "provider", "provider[]", "status",
    "status[]", "client", "client[]", "name", "order[createdAt]", "order[name]",
)  # fmt: skip

text = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
# Objects that look like the real bodies: known field names with any JSON values, plus strangers.
bodies = st.dictionaries(st.sampled_from(FIELDS) | text, json_values, max_size=8)


def _decodes_or_refuses(raw: bytes, kind: type[Any], content_type: str) -> None:
    accepted = MERGE_PATCH if kind in PATCHES else JSON_TYPES
    try:
        decoded = decode(raw, kind, content_type, accepted)
    except (BadRequest, UnsupportedMediaType) as refused:
        assert isinstance(refused.detail, str) and refused.detail
    else:
        assert isinstance(decoded, kind)


@FUZZ
@given(raw=st.binary(max_size=300), kind=st.sampled_from(BODIES))
def test_any_bytes_decode_or_are_a_400(raw: bytes, kind: type[Any]) -> None:
    _decodes_or_refuses(raw, kind, "application/merge-patch+json" if kind in PATCHES else "application/json")


CONTENT_TYPES = [
    "application/json",
    "application/ld+json; charset=utf-8",
    "application/merge-patch+json",
    "text/plain",
    "",
]


@FUZZ
@given(body=bodies, kind=st.sampled_from(BODIES), content_type=st.sampled_from(CONTENT_TYPES))
def test_any_json_object_decodes_or_is_a_400_or_415(
    body: dict[str, Any], kind: type[Any], content_type: str
) -> None:
    _decodes_or_refuses(json.dumps(body).encode(), kind, content_type)


@FUZZ
@given(value=json_values, wrap=st.integers(min_value=0, max_value=3 * MAX_DEPTH))
def test_the_depth_limit_is_exact(value: Any, wrap: int) -> None:
    document = value
    for _ in range(wrap):
        document = [document]
    raw = json.dumps(document).encode()
    assert nested_deeper_than(raw, MAX_DEPTH) == (_depth(document) > MAX_DEPTH)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


query_values = st.lists(st.text(max_size=12) | st.integers().map(str), max_size=3)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(QUERY_NAMES) | text, query_values, max_size=6))
def test_any_collection_query_parses_or_is_a_400(query: dict[str, list[str]]) -> None:
    try:
        listing = parse_listing(query)
    except BadRequest:
        return
    assert 1 <= listing.page.page <= MAX_PAGE
    assert 1 <= listing.page.items_per_page <= MAX_ITEMS_PER_PAGE
    if listing.name_pattern is not None:
        assert "\x00" not in listing.name_pattern


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["page", "itemsPerPage"]), query_values))
def test_page_numbers_are_in_range_or_a_400(query: dict[str, list[str]]) -> None:
    try:
        page = parse_page(query)
    except BadRequest:
        return
    assert 1 <= page.page <= MAX_PAGE and 1 <= page.items_per_page <= MAX_ITEMS_PER_PAGE


def _base64(raw: bytes) -> str:
    """Bytes as a cursor is spelled: padding-free URL-safe base64, so the decoder gets past its first step."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


orderings = st.builds(Ordering, st.sampled_from(["createdAt", "name"]), st.booleans())


@FUZZ
@given(token=st.text(max_size=80) | st.binary(max_size=60).map(_base64), ordering=orderings)
def test_any_cursor_decodes_or_is_a_400(token: str, ordering: Ordering) -> None:
    with contextlib.suppress(BadRequest):
        decode_cursor(token, ordering)


@FUZZ
@given(
    ordering=orderings,
    # Names a row can have: PostgreSQL text holds no NUL.
    name=st.text(st.characters(exclude_characters="\x00"), max_size=30),
    created=st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)),
    ident=st.uuids(),
)
def test_cursors_round_trip(ordering: Ordering, name: str, created: datetime, ident: uuid.UUID) -> None:
    row = {"name": name, "created_at": created, "id": ident}
    cursor = decode_cursor(encode_cursor(ordering, row), ordering)
    assert cursor is not None and cursor.id == ident


@FUZZ
@given(accept=st.text(max_size=60) | st.sampled_from(["application/json;q=0", "*/*;q=x", ",,", "a/b;q=1e9"]))
def test_any_accept_header_negotiates_or_is_a_406(accept: str) -> None:
    with contextlib.suppress(NotAcceptable):
        assert isinstance(negotiate(accept), Format)


@FUZZ
@given(header=st.text(max_size=40), version=st.integers(min_value=1, max_value=10**9))
def test_if_match_never_fails_to_answer(header: str, version: int) -> None:
    assert isinstance(preconditions.matches(header, version), bool)
    assert preconditions.matches(f'W/"{version}"', version) and preconditions.matches("*", version)


@FUZZ
@given(key=st.from_regex(idempotency.KEY_PATTERN, fullmatch=True) | st.text(max_size=300))
def test_idempotency_keys_are_what_the_document_says(key: str) -> None:
    documented = re.fullmatch(idempotency.KEY_PATTERN, key) is not None
    try:
        assert idempotency.parse_key(key) == key and documented
    except BadRequest:
        assert not documented


@FUZZ
@given(iri=st.from_regex(CLIENT_IRI_PATTERN, fullmatch=True))
def test_every_documented_client_iri_parses(iri: str) -> None:
    assert parse_client_iri(iri) == uuid.UUID(iri.rsplit("/", 1)[1])


@FUZZ
@given(url=st.text(max_size=80) | st.from_regex(r"https?://[^\s]{0,40}", fullmatch=True))
def test_url_checks_answer_for_any_text(url: str) -> None:
    assert isinstance(is_https_url(url), bool) and isinstance(is_web_url(url), bool)
