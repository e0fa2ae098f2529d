"""Progress of long work, told to whoever listens (a command's progress bar), or to no one.

Long-running code names its stages and counts its steps through these functions; an entry point
installs a listener with ``reporting``. Without one every call is a no-op, so library and
notebook callers pay nothing and see nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Listener(Protocol):
    def stage(self, name: str, total: int | None) -> None:
        """A new stage begins (the previous one is over); ``total`` steps if known."""

    def advance(self, steps: int) -> None:
        """``steps`` more steps of the current stage are done."""

    def note(self, text: str) -> None:
        """A detail of the current step (e.g. the boosting round reached)."""


_LISTENER: ContextVar[Listener | None] = ContextVar("cardpilot_progress", default=None)


@contextmanager
def reporting(listener: Listener) -> Iterator[Listener]:
    """Send the progress of the work in this block to ``listener``."""
    token = _LISTENER.set(listener)
    try:
        yield listener
    finally:
        _LISTENER.reset(token)


def stage(name: str, total: int | None = None) -> None:
    listener = _LISTENER.get()
    if listener is not None:
        listener.stage(name, total)


def advance(steps: int = 1) -> None:
    listener = _LISTENER.get()
    if listener is not None:
        listener.advance(steps)


def note(text: str) -> None:
    listener = _LISTENER.get()
    if listener is not None:
        listener.note(text)


def listening() -> bool:
    """Whether anyone listens (to skip preparing notes nobody reads)."""
    return _LISTENER.get() is not None


class Recording:
    """A listener that keeps what it hears, in order: for tests and notebooks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def stage(self, name: str, total: int | None) -> None:
        self.events.append(("stage", (name, total)))

    def advance(self, steps: int) -> None:
        self.events.append(("advance", steps))

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def of(self, kind: str) -> list[object]:
        """What was heard of one kind: ``stage``, ``advance`` or ``note``."""
        return [value for k, value in self.events if k == kind]
