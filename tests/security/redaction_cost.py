"""Run as a child process by test_linear_redaction: measures redaction's cost on adversarial text.

A separate process, so that a super-linear pattern shows as a child that never finishes, which the
test can kill, rather than a test session that hangs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.observability.redaction import redact

SMALL, LARGE = 1024, 64 * 1024
# Per-byte cost of the large text over that of the small one; linear work stays near 1 (or below,
# once the large text is cut), quadratic work would be about 64.
MAX_RATIO = 4.0
# Pieces of what the patterns look for, in combinations that make backtracking engines work hard.
PIECES = (
    "token", "pass", "password", "secret", "api_key", "apikey", "credential", "authorization",
    "Bearer ", "basic ", "eyJ", ".", "-----BEGIN A-----", "://", "a:", ":", "=", '"', "'", " ", "-",
    "_", "@", "x", "&", "\t",
)  # fmt: skip
units = st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join)


def _cost(work: Callable[[], object], repeat: int = 3) -> float:
    """CPU seconds of the cheapest of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def per_byte_ratio(unit: str, limit: int | None) -> float:
    small = (unit * (SMALL // len(unit) + 1))[:SMALL]
    large = small * (LARGE // SMALL)
    cap = {} if limit is None else {"limit": limit}
    small_cost = _cost(lambda: [redact(small, **cap) for _ in range(LARGE // SMALL)])
    large_cost = _cost(lambda: redact(large, **cap))
    return large_cost / max(small_cost, 1e-6)


@settings(max_examples=12, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(unit=units)
def check(unit: str) -> None:
    # As logged (cut to the default length), and the patterns alone over the whole text.
    for limit in (None, 2 * LARGE):
        ratio = per_byte_ratio(unit, limit)
        assert ratio <= MAX_RATIO, f"per-byte cost ratio {ratio:.1f} for {unit!r} (limit {limit})"


if __name__ == "__main__":
    check()
    print("linear", flush=True)
    sys.exit(0)
