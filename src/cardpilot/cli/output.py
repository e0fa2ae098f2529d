"""How commands report: one JSON object on stdout with ``--json``, Rich text otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

# Piped or redirected output is for programs and files: a record stays on one line, however long,
# and tables take the width they need, instead of being wrapped or cut at 80 columns.
PIPED_WIDTH = 4096


def make_console(*, stderr: bool = False) -> Console:
    """A console that wraps to the terminal, and wraps nothing when its stream is not one."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        piped = not stream.isatty()
    except (AttributeError, ValueError):
        piped = True
    return Console(stderr=stderr, soft_wrap=piped, width=PIPED_WIDTH if piped else None)


# Human output and progress go to stderr when --json is on, so stdout stays one JSON object.
console = make_console()
err_console = make_console(stderr=True)

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object on stdout.")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(payload: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=_default) + "\n")
    sys.stdout.flush()


def stop_live_displays() -> None:
    """Clear every progress display still on screen (before an error line is printed)."""
    from cardpilot.cli.progress import clear_all

    clear_all()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a user-facing error (what, where, what to do) and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)
