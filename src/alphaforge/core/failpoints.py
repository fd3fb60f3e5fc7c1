"""Named crash points: where the crash tests kill a process, by the process's own hand.

The crash-safety tests SIGKILL the trading process at the dangerous points (before storing an
intent, after storing and before sending, after the response and before its commit, during
fill processing) and also at random times from outside. A point is armed by the environment
variable ``AF_CRASH_AT=name`` or ``name:n`` (the ``n``-th time it is reached, 1 by default;
not an ``ALPHAFORGE_`` variable, since it is no setting). An armed point sends SIGKILL to its
own process, which, like a power cut, runs no ``finally`` block and flushes nothing. Unarmed
(always, outside those tests) a point costs a dictionary lookup.
"""

from __future__ import annotations

import os
import signal

#: The variable that arms one point.
CRASH_ENV = "AF_CRASH_AT"

_hits: dict[str, int] = {}


def _armed() -> tuple[str, int] | None:
    spec = os.environ.get(CRASH_ENV, "")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count) if count.isdigit() else 1


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is the armed point and its count is reached."""
    armed = _armed()
    if armed is None or armed[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["CRASH_ENV", "failpoint"]
