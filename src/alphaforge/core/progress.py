"""Progress reporting passed explicitly into long-running stages.

Stages call ``reporter.task(description, total)`` and ``advance()`` on what it returns; the CLI
passes a rich progress bar, tests and libraries pass :data:`SILENT`.
"""

from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    """One progress bar."""

    def advance(self, steps: int = 1) -> None: ...

    def done(self) -> None: ...


class Reporter(Protocol):
    """Creates progress bars."""

    def task(self, description: str, total: int | None = None) -> Task: ...


class _SilentTask:
    def advance(self, steps: int = 1) -> None:
        del steps

    def done(self) -> None:
        return None


class _SilentReporter:
    def task(self, description: str, total: int | None = None) -> Task:
        del description, total
        return _SilentTask()


#: A reporter that shows nothing.
SILENT: Reporter = _SilentReporter()
