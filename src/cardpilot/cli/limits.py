"""``cardpilot limits apply-pending``: pending decreases whose notice period is over, applied."""

from __future__ import annotations

import datetime as dt

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json

limits_app = typer.Typer(
    help="Limit changes waiting for their notice period.", no_args_is_help=True
)
app.add_typer(limits_app, name="limits")


@limits_app.command("apply-pending")
def apply_pending(
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Apply the decreases effective on or before this day (YYYY-MM-DD);"
        " default today in the issuer's time zone.",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply every pending decrease whose notice period has ended: limit history, the
    account's limit and a ledger event, audited; running it again changes nothing."""
    from cardpilot.jobs.limits import apply_pending as apply

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from exc
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
