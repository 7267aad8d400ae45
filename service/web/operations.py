"""What API Platform's read operations declare alike: their summaries, success shapes and error codes."""

from __future__ import annotations

from typing import Any

from service.web.openapi import error_responses, success


def read_collection(resource: str, shape: Any, operation: type[Any], description: str) -> dict[str, Any]:
    """The keyword arguments of a collection GET; `shape` is the member list type."""
    return {
        "summary": f"Retrieves the collection of {resource} resources.",
        "description": description,
        "operation_class": operation,
        "responses": {200: success(shape, f"{resource} collection"), **error_responses(400, 401, 403, 406)},
    }


def read_item(
    resource: str, shape: Any, operation: type[Any], description: str | None = None
) -> dict[str, Any]:
    """The keyword arguments of an item GET (404 when the caller cannot see the item)."""
    return {
        "summary": f"Retrieves a {resource} resource.",
        "description": description,
        "operation_class": operation,
        "responses": {200: success(shape, f"{resource} resource"), **error_responses(401, 403, 404, 406)},
    }
