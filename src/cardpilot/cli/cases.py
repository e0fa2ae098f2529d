"""``cardpilot cases open|decide|list``: human review of a limit decision (PIPL art. 24)."""

from __future__ import annotations

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine, policy_path
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table

cases_app = typer.Typer(
    help="Human review of automated limit decisions: open, decide and list cases.",
    no_args_is_help=True,
)
app.add_typer(cases_app, name="cases")

REASON_OPTION = typer.Option(..., "--reason", help="Why, in words another analyst can follow.")


@cases_app.command("open")
def open_(
    account: str = typer.Argument(..., help="Account id."),
    reason: str = REASON_OPTION,
    requested_by: str = typer.Option(
        "customer", "--requested-by", help="customer (their request) or analyst."
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Open a case on the account's latest limit decision."""
    from cardpilot.jobs.cases import CaseError, open_review_case

    db = open_engine(database)
    try:
        case = open_review_case(db, account, reason, requested_by=requested_by)
    except CaseError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("cases open", case.as_json())
        return
    console.print(f"case {case.id} opened on account {account} (decision {case.decision_id})")


@cases_app.command("decide")
def decide(
    case_id: int = typer.Argument(..., help="Case number (cardpilot cases list)."),
    outcome: str = typer.Option(..., "--outcome", help="uphold or override."),
    reason: str = REASON_OPTION,
    new_limit: str | None = typer.Option(
        None, "--new-limit", help="With override: the new limit, in yuan (e.g. 80000)."
    ),
    policy: str | None = typer.Option(
        None,
        "--policy",
        help="Policy by name (`cardpilot policy list`) or folder holding cases.yaml;"
        " default: the shipped one.",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the analyst's outcome: stored, audited and told to the customer; an override
    holds against later reviews for the policy's override_hold_days."""
    from cardpilot.domain.money import MoneyError, to_minor
    from cardpilot.jobs.cases import CaseError, decide_review_case
    from cardpilot.policy.cases import load_case_policy
    from cardpilot.policy.loading import PolicyError

    try:
        new_limit_minor = None if new_limit is None else to_minor(new_limit)
    except MoneyError as exc:
        raise fail(f"--new-limit {new_limit!r}: {exc}") from exc
    try:
        case_policy = load_case_policy(policy_path(policy))
    except PolicyError as exc:
        raise fail(str(exc)) from exc
    db = open_engine(database)
    try:
        case = decide_review_case(
            db, case_id, outcome, reason, case_policy, new_limit_minor=new_limit_minor
        )
    except CaseError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("cases decide", case.as_json())
        return
    held = (
        f"; later reviews leave the limit alone until {case.hold_until}" if case.hold_until else ""
    )
    console.print(f"case {case.id}: {case.outcome}{held}")


@cases_app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help="open or decided; default all."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Cases in the order they were opened."""
    from cardpilot.store.cases import list_cases

    if status not in (None, "open", "decided"):
        raise fail(f"--status {status!r}: use open or decided")
    db = open_engine(database)
    try:
        cases = list_cases(db, status)
    finally:
        db.dispose()
    if as_json:
        print_json("cases list", {"cases": [c.as_json() for c in cases]})
        return
    table = titled_table(
        "case", "account", "status", "requested by", "outcome", "hold until", "reason"
    )
    for c in cases:
        table.add_row(
            str(c.id),
            c.account_id,
            c.status,
            c.requested_by,
            c.outcome or "",
            str(c.hold_until or ""),
            c.decision_reason or c.reason,
        )
    console.print(table)
