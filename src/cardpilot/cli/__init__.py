"""The ``cardpilot`` command. Thin: parses, calls a job or service, prints with Rich.

Each group of sub-commands lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

import typer

from cardpilot.cli.errors import HandledGroup, Running
from cardpilot.version import __version__

app = typer.Typer(
    name="cardpilot",
    help="Credit-card limit and overdue management: score, grade, review, treat and tell.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    cls=HandledGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="CARDPILOT_DEBUG",
        help="Show the full traceback of an error instead of one line.",
    ),
) -> None:
    """cardpilot: explainable credit-card limit and overdue management."""
    from cardpilot.cli.common import check_key_settings, configure_logging

    Running.name = ctx.invoked_subcommand
    configure_logging()
    check_key_settings()


# Registration: importing a module adds its commands to ``app``.
from cardpilot.cli import account as _account  # noqa: E402,F401
from cardpilot.cli import advise as _advise  # noqa: E402,F401
from cardpilot.cli import aging as _aging  # noqa: E402,F401
from cardpilot.cli import apply as _apply  # noqa: E402,F401
from cardpilot.cli import audit as _audit  # noqa: E402,F401
from cardpilot.cli import cases as _cases  # noqa: E402,F401
from cardpilot.cli import demo as _demo  # noqa: E402,F401
from cardpilot.cli import events as _events  # noqa: E402,F401
from cardpilot.cli import experiments as _experiments  # noqa: E402,F401
from cardpilot.cli import explain as _explain  # noqa: E402,F401
from cardpilot.cli import fairness as _fairness  # noqa: E402,F401
from cardpilot.cli import generate as _generate  # noqa: E402,F401
from cardpilot.cli import ledger as _ledger  # noqa: E402,F401
from cardpilot.cli import limits as _limits  # noqa: E402,F401
from cardpilot.cli import model as _model  # noqa: E402,F401
from cardpilot.cli import notify as _notify  # noqa: E402,F401
from cardpilot.cli import overdue as _overdue  # noqa: E402,F401
from cardpilot.cli import plan as _plan  # noqa: E402,F401
from cardpilot.cli import policy as _policy  # noqa: E402,F401
from cardpilot.cli import portfolio as _portfolio  # noqa: E402,F401
from cardpilot.cli import privacy as _privacy  # noqa: E402,F401
from cardpilot.cli import purchase as _purchase  # noqa: E402,F401
from cardpilot.cli import request as _request  # noqa: E402,F401
from cardpilot.cli import review as _review  # noqa: E402,F401
from cardpilot.cli import segments as _segments  # noqa: E402,F401
from cardpilot.cli import serve as _serve  # noqa: E402,F401
from cardpilot.cli import simulate as _simulate  # noqa: E402,F401
from cardpilot.cli import summary as _summary  # noqa: E402,F401
from cardpilot.cli import warn as _warn  # noqa: E402,F401
