"""Named SQL queries kept in `.sql` files, loaded once at import time."""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class Queries(dict[str, str]):
    """A mapping from query name to SQL text; a missing name fails loudly at import."""

    def __missing__(self, name: str) -> str:
        raise KeyError(f"no SQL query named {name!r}")


def parse_queries(text: str) -> Queries:
    """Split a file into sections that each start with a `-- name: NAME` line."""
    queries = Queries()
    parts = _NAME.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"SQL query {name!r} is defined twice")
        queries[name] = body.strip()
    return queries


def load_queries(package: str, filename: str = "queries.sql") -> Queries:
    """Load the named queries of the `.sql` file that sits in `package`."""
    return parse_queries(resources.files(package).joinpath(filename).read_text("utf-8"))
