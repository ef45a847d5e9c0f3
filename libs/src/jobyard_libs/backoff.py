"""The one backoff rule: how long to wait after the ``n``-th failure in a row.

``base * 2^(n-1)``, capped at ``cap``, then drawn uniformly from the upper half of that
(``[ceiling / 2, ceiling]``): exponential so a lasting outage is not hammered, capped so a
recovery is noticed soon, jittered so many waiters (a worker's threads, a fleet of pods)
do not retry in step. Used by task retries (milliseconds, ``JOBYARD_TASK_RETRY_*``), by
every process waiting out a MongoDB or Redis outage (seconds) and by feed fetches.

>>> backoff(1, base=100, cap=5000, draw=lambda: 1.0), backoff(4, base=100, cap=5000, draw=lambda: 1.0)
(100.0, 800.0)
>>> backoff(10, base=100, cap=5000, draw=lambda: 0.5)  # capped, then jittered down to half
2500.0
"""

from __future__ import annotations

import random
from collections.abc import Callable


def _upper_half() -> float:
    return random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


def backoff(failures: int, *, base: float, cap: float, draw: Callable[[], float] = _upper_half) -> float:
    """The wait after ``failures`` failures in a row (1 for the first), in ``base``'s unit."""
    ceiling = min(cap, base * 2 ** max(0, failures - 1))
    return float(ceiling * draw())
