"""Runs the Node programs of tests/js (installed by `npm ci --prefix tests/js`) against the api."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).resolve().parents[1] / "js"


def node_or_fail() -> str:
    """The node binary; without Node or the installed packages these tests cannot run at all."""
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "@api-platform" / "api-doc-parser").is_dir():
        pytest.fail("Node 20 and `npm ci --prefix tests/js` are needed for the third-party client tests")
    return node


def run_node(script: str | Path, *args: str, timeout: float = 120) -> Any:
    """Run a script of tests/js; its standard output is one JSON document."""
    done = subprocess.run(
        [node_or_fail(), str(JS / script), *args],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr}\n{done.stdout}"
    return json.loads(done.stdout)
