"""``cardpilot limits apply-pending``: pending decreases whose notice period is over, applied."""

from __future__ import annotations

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_or_today
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, print_json

limits_app = typer.Typer(
    help="Limit changes waiting for their notice period.", no_args_is_help=True
)
app.add_typer(limits_app, name="limits")


@limits_app.command("apply-pending")
def apply_pending(
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Apply the decreases effective on or before this day",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply every pending decrease whose notice period has ended: limit history, the
    account's limit and a ledger event, audited; running it again changes nothing."""
    from cardpilot.jobs.limits import apply_pending as apply

    day = as_of_or_today(as_of)
    db = open_engine(database)
    try:
        applied = apply(db, day)
    finally:
        db.dispose()
    if as_json:
        print_json("limits apply-pending", applied.as_json())
        return
    console.print(
        f"as of {applied.as_of}: {applied.applied} pending decreases applied,"
        f" {applied.superseded} superseded (the limit had changed since the decision)"
    )
