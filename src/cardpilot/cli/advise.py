"""``cardpilot advise ACCOUNT``: at most three actions that move the customer to the next grade."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.apply import load_policies
from cardpilot.cli.as_of import parse_as_of
from cardpilot.cli.common import DATABASE_OPTION, LIMITS_POLICY_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json
from cardpilot.cli.review import load_scorer


@app.command("advise")
def advise(
    account: str = typer.Argument(..., help="Account id."),
    policy: str | None = LIMITS_POLICY_OPTION,
    model: Path | None = typer.Option(
        None, "--model", help="Model folder; default: the registry's scorecard champion."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="The date to advise as of"),
    locale: str = typer.Option("zh-CN", "--locale", help="zh-CN or en (text output)."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """What the customer can do to reach the next grade, each action with the points it gains."""
    from cardpilot.jobs.advise import AdviceError, advise_account

    limits, customer = load_policies(policy)
    if customer.advice is None:
        raise fail("the policy's customer.yaml has no advice section")
    scorer = load_scorer(model, customer.advice.model_family)
    db = open_engine(database)
    try:
        result = advise_account(db, account, scorer, limits, customer, as_of=parse_as_of(as_of))
    except AdviceError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json("advise", result)
        return
    _print(result, locale)


def _print(result: dict[str, Any], locale: str) -> None:
    console.print(
        f"account {result['account_id']}: score {result['score']}, grade {result['grade']}"
        f" (next: {result['next_grade']})"
    )
    if not result["actions"]:
        console.print("no action of the policy raises the score now")
        return
    for a in result["actions"]:
        console.print(f"· {a[locale] if locale in a else a['en']}: +{a['points']}")
    reached = "reaches" if result["reaches_next_grade"] else "does not reach"
    console.print(
        f"then: score {result['promised_score']}, grade {result['promised_grade']}"
        f" ({reached} {result['next_grade']})"
    )
