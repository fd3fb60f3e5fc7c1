"""Process-wide set-up, run once at the start of every AlphaForge process.

The command line (:func:`alphaforge.cli.app.main`) calls :func:`bootstrap_process` before it
parses anything, and so must every worker process a backend starts (local pool, Ray), first
thing. Library code never calls it: importing or calling a stage changes nothing about the
process it runs in.
"""

from __future__ import annotations

from collections.abc import Mapping

from alphaforge.core.allocator import retain_freed_memory

#: Set to ``0`` to leave glibc's allocator alone (see :mod:`alphaforge.core.allocator`).
MALLOC_TUNING_ENV_VAR = "ALPHAFORGE_MALLOC_TUNING"


def bootstrap_process(environ: Mapping[str, str]) -> dict[str, bool]:
    """Apply the process-wide settings; return what was applied, by name.

    Parameters
    ----------
    environ
        The process environment (``os.environ``), read for the switches named above.
    """
    tune = environ.get(MALLOC_TUNING_ENV_VAR, "1") != "0"
    return {"malloc_tuning": retain_freed_memory() if tune else False}


__all__ = ["MALLOC_TUNING_ENV_VAR", "bootstrap_process"]
