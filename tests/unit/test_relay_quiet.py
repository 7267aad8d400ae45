"""The rate limit on repeated log lines: one per template and interval, then a count of the rest."""

from __future__ import annotations

import logging

import pytest

from service.events import quiet
from service.events.quiet import Throttle


def _record(msg: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_template_passes_once_per_interval_then_says_how_many_were_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(quiet.time, "monotonic", lambda: now[0])
    throttle = Throttle(interval=60.0)
    template = "Unable connect to node with id %s: %s"
    assert throttle.filter(_record(template, 1, "refused"))
    assert not any(throttle.filter(_record(template, 1, f"refused {i}")) for i in range(500))
    # Another template, or the same one from another logger, is not held back by the first.
    assert throttle.filter(_record("Unable to update metadata from %s", [1]))
    assert throttle.filter(_record(template, 1, "refused", name="aiokafka.client"))
    now[0] += 61
    later = _record(template, 1, "refused")
    assert throttle.filter(later)
    held = "[500 more like this in the last 61 s]"
    assert later.getMessage() == f"Unable connect to node with id 1: refused {held}"
    assert throttle.filter(_record(template, 1, "refused")) is False
