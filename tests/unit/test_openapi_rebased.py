"""The OpenAPI document rebased on `/api`: what moves, what keeps its path with a path-level server."""

from __future__ import annotations

from service.web.openapi_rebased import rebased

LINK = {"links": {"show": {"operationRef": "#/paths/~1api~1things~1{id}/get"}}}
DOCUMENT = {
    "openapi": "3.1.0",
    "servers": [{"url": "https://api.example/"}],
    "paths": {
        "/api": {"get": {}},
        "/api/things": {"post": {"responses": {"201": LINK}}},
        "/api/things/{id}": {"get": {}},
        "/apiary": {"get": {}},
        "/login": {"post": {}, "servers": [{"url": "https://auth.example"}]},
    },
}


def test_paths_under_the_prefix_move_and_the_others_keep_a_server_of_their_own() -> None:
    moved = rebased(DOCUMENT)
    assert moved["servers"] == [{"url": "https://api.example/api"}]
    assert list(moved["paths"]) == ["/", "/things", "/things/{id}", "/apiary", "/login"]
    assert moved["paths"]["/apiary"]["servers"] == [{"url": "https://api.example/"}]
    assert moved["paths"]["/login"]["servers"] == [{"url": "https://auth.example"}]
    assert "servers" not in moved["paths"]["/things"]
    link = moved["paths"]["/things"]["post"]["responses"]["201"]["links"]["show"]
    assert link["operationRef"] == "#/paths/~1things~1{id}/get"


def test_the_original_is_left_as_it_was() -> None:
    rebased(DOCUMENT)
    assert "/api/things" in DOCUMENT["paths"]
    assert LINK["links"]["show"]["operationRef"] == "#/paths/~1api~1things~1{id}/get"
    assert DOCUMENT["servers"] == [{"url": "https://api.example/"}]
