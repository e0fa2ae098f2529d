"""Progress on stderr for long work, erased from the screen when the work fails.

Every command runs with a ``StageBar`` listening (installed by the root group), so any job that
reports stages through ``cardpilot.domain.progress`` shows them without the command doing
anything. On a terminal the bar is one Rich line, replaced stage by stage; on a pipe or a log
file each stage that took longer than ``PLAIN_AFTER_SECONDS`` leaves one plain line when it
ends, so a long run is not silent there either and a short one adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.errors import LiveError
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

PLAIN_AFTER_SECONDS = 2.0

_RUNNING: list[Live] = []


def track(live: Live) -> None:
    _RUNNING.append(live)


def forget(live: Live) -> None:
    if live in _RUNNING:
        _RUNNING.remove(live)


def clear_all() -> None:
    """Stop and erase every running display (an error line follows it)."""
    while _RUNNING:
        live = _RUNNING.pop()
        live.transient = True
        live.stop()


class TrackedProgress(Progress):
    """A Rich ``Progress`` that is erased, not left half-drawn, when its block fails."""

    def start(self) -> None:
        track(self.live)
        super().start()

    def stop(self) -> None:
        forget(self.live)
        super().stop()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.live.transient = True
        super().__exit__(exc_type, *rest)


def bar(console: Console, *, transient: bool = False, label_width: int = 0) -> TrackedProgress:
    """The bar commands use for their own counted work (accounts, rows)."""
    return TrackedProgress(
        SpinnerColumn(),
        TextColumn(f"[bold]{{task.description:<{label_width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )


class StageBar:
    """Listens to ``cardpilot.domain.progress``: one line per stage, with counts and notes."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: TrackedProgress | None = None
        self._task: TaskID | None = None
        self._name = ""
        self._started = 0.0
        self._total: int | None = None

    def stage(self, name: str, total: int | None) -> None:
        self._finish_plain()
        self._name, self._started, self._total = name, time.perf_counter(), total
        if not self._console.is_terminal:
            return
        if self._progress is None:
            self._progress = bar(self._console, transient=True)
            try:
                self._progress.start()
            except LiveError:  # the command shows its own bar now: that one stays
                forget(self._progress.live)
                self._progress = None
                return
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(name, total=total)

    def advance(self, steps: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, steps)

    def note(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"{self._name} · {text}")

    def close(self) -> None:
        self._finish_plain()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _finish_plain(self) -> None:
        took = time.perf_counter() - self._started
        if self._name and not self._console.is_terminal and took >= PLAIN_AFTER_SECONDS:
            counted = f"{self._total:,} steps " if self._total else ""
            self._console.print(
                f"{self._name}: {counted}done in {took:.1f} s", soft_wrap=True, highlight=False
            )
        self._name = ""


@contextmanager
def counted(
    console: Console, title: str, *, transient: bool
) -> Iterator[Callable[[int, int], None]]:
    """A bar for a job that counts its work; yields the job's callback ``(done, total)``."""
    with bar(console, transient=transient) as progress:
        task = progress.add_task(title, total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield on_progress
