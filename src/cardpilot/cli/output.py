"""How commands report: one JSON envelope on stdout with ``--json``, Rich text otherwise.

Every ``--json`` goes through ``print_json(command, data)``; see its docstring for the envelope
and ``cardpilot.domain.figures`` for money and rates.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Mapping
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cardpilot.domain.figures import json_value
from cardpilot.version import __version__

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

JSON_OPTION = typer.Option(
    False, "--json", help="Print one JSON envelope on stdout (command, version, data)."
)


def json_envelope(command: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope ``print_json`` prints, as a dict (for callers that embed it)."""
    return {"command": command, "version": __version__, "data": json_value(data)}


def print_json(command: str, data: Mapping[str, Any]) -> None:
    """Print the ``--json`` answer of ``command``: the one envelope every command uses.

    ``command`` is the command's path under ``cardpilot`` (``"review run"``, ``"summary"``);
    ``data`` is its figures. stdout gets exactly one line::

        {"command": "review run", "version": "0.1.0", "data": {...}}

    Inside ``data`` (``cardpilot.domain.figures`` has the formatters):

    - money is a decimal string in major units (``"1234.56"``, via ``figures.money(minor)``)
      and the object holding it, or one enclosing it, has ``currency`` (``"CNY"``);
    - rates and shares are decimal strings (``figures.rate(0.1234)`` → ``"0.123400"``), never
      floats or basis points; counts are integers; no number has a fraction part;
    - dates are ISO text; a run is named by ``run_id``.

    Human text and progress go to stderr while ``--json`` is on (``err_console``), so stdout
    stays one envelope. ``docs/cli.md`` and ``cli/envelope.schema.json`` say the same."""
    text = json.dumps(json_envelope(command, data), ensure_ascii=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def envelope_data(printed: str | bytes) -> Any:
    """The ``data`` of the envelope ``print_json`` printed (the last line of ``printed``: a
    command's stdout); raises ``ValueError`` when that line is not one."""
    text = printed.decode() if isinstance(printed, bytes) else printed
    lines = text.strip().splitlines()
    envelope = json.loads(lines[-1]) if lines else None
    if not isinstance(envelope, dict) or set(envelope) != {"command", "version", "data"}:
        raise ValueError(f"not a cardpilot --json envelope: {text[:200]!r}")
    return envelope["data"]


def titled_table(
    *columns: str,
    title: str | None = None,
    right: Collection[str] = (),
    fold: Collection[str] = (),
    no_wrap: Collection[str] = (),
) -> Table:
    """A Rich table whose column headings and title are written in the configured locale (the
    title's ``{…}`` fields filled by the caller through ``tr``, or given already filled).

    ``right`` names the columns aligned right (figures), ``fold`` those whose long values fold
    onto the next line rather than being cut, ``no_wrap`` those kept on one line; each by its
    heading as written here, in English."""
    from cardpilot.cli.i18n import tr

    table = Table(title=tr(title) if title else None)
    for column in columns:
        table.add_column(
            tr(column),
            justify="right" if column in right else "left",
            overflow="fold" if column in fold else "ellipsis",
            no_wrap=column in no_wrap,
        )
    return table


def stop_live_displays() -> None:
    """Clear every progress display still on screen (before an error line is printed)."""
    from cardpilot.cli.progress import clear_all

    clear_all()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a user-facing error (what, where, what to do) and return the exit to raise.

    The ``error:`` prefix stays as it is for scripts to find; the message is written in the
    configured locale when the catalogue has its template (``cli.i18n.translate_error``)."""
    from cardpilot.cli.i18n import translate_error

    err_console.print(
        f"[bold red]error:[/] {escape(translate_error(message))}", soft_wrap=True, highlight=False
    )
    return typer.Exit(code)
