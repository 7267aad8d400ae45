"""Named SQL queries kept in `.sql` files, loaded once at import time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

# A fetched row, read by column name.
Row = Mapping[str, Any]

_SECTION = re.compile(r"^--\s*(name|fragment):\s*(\w+)\s*$", re.MULTILINE)
_REFERENCE = re.compile(r"\{\{(\w+)\}\}")


class Queries(dict[str, str]):
    """A mapping from query name to SQL text; a missing name fails loudly at import."""

    def __missing__(self, name: str) -> str:
        raise KeyError(f"no SQL query named {name!r}")


def parse_queries(text: str) -> Queries:
    """Split a file into sections that each start with a `-- name: NAME` line.

    A `-- fragment: NAME` section is text that queries include as `{{NAME}}` (a select list, a filter),
    so it is written once; fragments are expanded here, once, and are not queries themselves.
    """
    queries = Queries()
    fragments: dict[str, str] = {}
    parts = _SECTION.split(text)
    for kind, name, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        if name in queries or name in fragments:
            raise ValueError(f"SQL query {name!r} is defined twice")
        target = fragments if kind == "fragment" else queries
        target[name] = _expand(body.strip(), fragments, name)
    return queries


def _expand(body: str, fragments: dict[str, str], name: str) -> str:
    def fragment(match: re.Match[str]) -> str:
        if match[1] not in fragments:
            raise ValueError(f"SQL query {name!r} uses {{{{{match[1]}}}}}, which is not defined above it")
        return fragments[match[1]].removesuffix(";")

    return _REFERENCE.sub(fragment, body)


def load_queries(package: str, filename: str = "queries.sql") -> Queries:
    """Load the named queries of the `.sql` file that sits in `package`."""
    return parse_queries(resources.files(package).joinpath(filename).read_text("utf-8"))
