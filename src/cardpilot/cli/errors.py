"""One error handler for every command: an expected failure is one ``error:`` line and exit 2.

The root command group catches what a command lets escape, so a command added anywhere under
``cardpilot`` is covered without doing anything. ``--debug`` (or ``CARDPILOT_DEBUG=1``) shows the
traceback instead.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from cardpilot.cli.i18n import translate_error
from cardpilot.cli.output import fail, stop_live_displays

# Exit codes: 2 for a failure the user can fix (input, configuration, store), 1 for a fault.
USER_ERROR = 2
FAULT = 1


class Running:
    """The top-level sub-command running now (``None`` outside a command)."""

    name: str | None = None


def debugging(ctx: typer.Context | None = None) -> bool:
    flag = bool(ctx.params.get("debug")) if ctx is not None else False
    return flag or os.environ.get("CARDPILOT_DEBUG", "").lower() in ("1", "true", "yes")


def explain(exc: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code for an expected failure; ``None`` for a fault."""
    from sqlalchemy.exc import DBAPIError

    from cardpilot.config import ConfigError
    from cardpilot.store.access import StoreAccessError
    from cardpilot.store.db import StoreBusyError

    if isinstance(exc, ConfigError | StoreAccessError | StoreBusyError):
        return str(exc), USER_ERROR
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"cannot read the file as {exc.encoding} ({exc.reason} at byte {exc.start}); "
            "give its encoding with --encoding (e.g. gb18030)",
            USER_ERROR,
        )
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename}: no such file or folder", USER_ERROR
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename}: is a folder; give a file", USER_ERROR
    if isinstance(exc, NotADirectoryError):
        return f"{exc.filename}: a part of the path is a file, not a folder", USER_ERROR
    if isinstance(exc, PermissionError):
        return f"{exc.filename}: permission denied; check the file's owner and mode", USER_ERROR
    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
        return f"the store refused the work: {reason[0]}", USER_ERROR
    return None


def report(exc: BaseException) -> typer.Exit:
    """Print ``exc`` as one line (a fault says how to see the traceback) and return the exit."""
    stop_live_displays()
    known = explain(exc)
    if known is not None:
        message, code = known
        return fail(message, code)
    return fail(
        f"{type(exc).__name__}: {exc} (an internal fault; run again with --debug to see the "
        "traceback, and report it)",
        FAULT,
    )


class HandledGroup(TyperGroup):
    """The root group: every sub-command runs inside its ``invoke``, so its errors come here.

    Typer builds the whole tree before this group, so the help conventions are applied here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from cardpilot.cli.conventions import apply

        super().__init__(*args, **kwargs)
        apply(self)

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        from cardpilot.cli.output import err_console
        from cardpilot.cli.progress import StageBar
        from cardpilot.domain.progress import reporting

        stages = StageBar(err_console)
        try:
            with reporting(stages):
                result = super().invoke(ctx)
            stages.close()
            return result
        except (typer.Exit, typer.Abort, typer.TyperException) as exc:
            stop_live_displays()
            if isinstance(getattr(exc, "message", None), str):  # a usage error: in the locale
                exc.message = translate_error(exc.message)  # type: ignore[union-attr]
            raise
        except Exception as exc:
            if debugging(ctx):
                stop_live_displays()
                raise
            raise report(exc) from None
        finally:
            Running.name = None
