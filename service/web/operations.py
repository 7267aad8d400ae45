"""What API Platform's operations declare alike: their summaries, bodies, success shapes and error codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from litestar.datastructures import ResponseHeader

from service.web.openapi import JsonBody, MergePatchBody
from service.web.responses import error_responses, success

Notes = Mapping[int, str] | None
LOCATION = ResponseHeader(name="Location", documentation_only=True)
CREATE_ERRORS = (400, 401, 403, 406, 415, 422)
UPDATE_ERRORS = (400, 401, 403, 404, 406, 415, 422)


def _declared(
    operation: type[Any], summary: str, description: str | None, responses: dict[int, Any]
) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": description,
        "operation_class": operation,
        "responses": responses,
    }


def read_collection(
    resource: str, shape: Any, operation: type[Any], description: str | None
) -> dict[str, Any]:
    """The keyword arguments of a collection GET; `shape` is the member list type."""
    responses = {200: success(shape, f"{resource} collection"), **error_responses(400, 401, 403, 406)}
    return _declared(operation, f"Retrieves the collection of {resource} resources.", description, responses)


def read_item(
    resource: str, shape: Any, operation: type[Any], description: str | None = None
) -> dict[str, Any]:
    """The keyword arguments of an item GET (404 when the caller cannot see the item)."""
    responses = {200: success(shape, f"{resource} resource"), **error_responses(401, 403, 404, 406)}
    return _declared(operation, f"Retrieves a {resource} resource.", description, responses)


def create_item(
    resource: str,
    body: type[Any],
    shape: Any,
    operation: type[Any],
    description: str | None = None,
    *,
    errors: Sequence[int] = CREATE_ERRORS,
    location: bool = True,
) -> dict[str, Any]:
    """The keyword arguments of a POST that creates an item from a JSON body (201, with its Location)."""
    responses = {201: success(shape, f"{resource} resource created"), **error_responses(*errors)}
    declared = _declared(operation, f"Creates a {resource} resource.", description, responses)
    declared |= {"dto": JsonBody[body], "return_dto": None}  # type: ignore[valid-type]
    return declared | ({"response_headers": [LOCATION]} if location else {})


def update_item(
    resource: str,
    body: type[Any],
    shape: Any,
    operation: type[Any],
    description: str,
    *,
    errors: Sequence[int] = UPDATE_ERRORS,
    notes: Notes = None,
) -> dict[str, Any]:
    """The keyword arguments of a JSON merge patch of an item."""
    responses = {200: success(shape, f"{resource} resource updated"), **error_responses(*errors, notes=notes)}
    declared = _declared(operation, f"Updates the {resource} resource.", description, responses)
    return declared | {"dto": MergePatchBody[body], "return_dto": None}  # type: ignore[valid-type]


def remove_item(
    resource: str, operation: type[Any], description: str, errors: Sequence[int], notes: Notes = None
) -> dict[str, Any]:
    """The keyword arguments of an item DELETE (204, no body)."""
    responses = error_responses(*errors, notes=notes)
    return _declared(operation, f"Removes the {resource} resource.", description, dict(responses))
