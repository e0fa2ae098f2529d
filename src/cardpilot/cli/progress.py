"""Progress on stderr for long work, cleared from the screen when the work fails."""

from __future__ import annotations

from rich.live import Live

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
