"""Rich console helpers: progress bars behind the Reporter protocol, one-line errors."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from alphaforge.core.progress import Task

# Piped output gets a wide console so tables are not truncated; errors never wrap (one line).
# Markup is off: symbols, paths and messages are the user's text ("X[/b]" is a valid name).
console = Console(
    stderr=False, highlight=False, markup=False, width=None if sys.stdout.isatty() else 200
)
err_console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


def print_error(message: str, *, label: str = "error") -> None:
    """Print ``label: message`` on one line of stderr."""
    err_console.print(Text.assemble((f"{label}:", "bold red"), " ", message))


def print_warning(message: str) -> None:
    """Print ``warning: message`` on one line of stderr."""
    err_console.print(Text.assemble(("warning:", "bold yellow"), " ", message))


def cells(*values: object) -> list[Text]:
    """Return table cells that show ``values`` literally (no markup)."""
    return [Text(str(v)) for v in values]


class _RichTask:
    def __init__(self, progress: Progress, task_id: TaskID) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, steps: int = 1) -> None:
        self._progress.advance(self._id, steps)

    def done(self) -> None:
        task = self._progress.tasks[self._id]
        total = task.total if task.total is not None else 1
        self._progress.update(self._id, total=total, completed=total)


class RichReporter:
    """Progress bars on stderr; use as a context manager around a long command."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )

    def task(self, description: str, total: int | None = None) -> Task:
        """Start a new progress bar."""
        return _RichTask(self._progress, self._progress.add_task(description, total=total))

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
