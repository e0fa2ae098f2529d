"""``cardpilot ledger check``: the ledger's invariants over the whole store."""

from __future__ import annotations

from pathlib import Path

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json

ledger_app = typer.Typer(
    help="The account ledger: postings, balances, invariants.", no_args_is_help=True
)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check")
def check(
    policy: Path | None = typer.Option(
        None,
        "--policy",
        help="Overdue policy whose charge rules apply (interest on fees, compounding); "
        "default the shipped policy.",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check every invariant: waived ≤ charged per fee, no interest on fees, no compounding
    unless the policy allows it, statements reconcile. Exits 1 when anything is violated."""
    from cardpilot.jobs.ledger import check_ledger
    from cardpilot.overdue.charges import charge_rules
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy

    try:
        rules = charge_rules(load_overdue_policy(policy))
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    db = open_engine(database)
    try:
        result = check_ledger(db, rules)
    finally:
        db.dispose()
    if as_json:
        print_json("ledger check", result.as_json())
    else:
        console.print(
            f"ledger check · {result.accounts:,} accounts · {result.postings:,} postings · "
            f"{result.statements_checked:,} statements · {result.violations:,} violations · "
            f"{result.seconds:.1f} s"
        )
        for name, count in result.by_invariant.items():
            console.print(f"  {name:<22} {count:>10,}")
        for example in result.examples:
            console.print(
                f"  account {example['account_id']} · {example['invariant']} · "
                f"{example['idempotency_key']}: {example['detail']}"
            )
    if result.violations:
        raise typer.Exit(1)
