"""``cardpilot request increase ACCOUNT`` (a customer asks for more, decided now) and
``cardpilot request expire`` (temporary limits whose date has come, taken off)."""

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
from cardpilot.domain.money import MoneyError, format_major, to_minor

request_app = typer.Typer(
    help="A customer's requests for more credit, and the expiry of temporary limits.",
    no_args_is_help=True,
)
app.add_typer(request_app, name="request")


@request_app.command("increase")
def increase(
    account: str = typer.Argument(..., help="Account id."),
    kind: str = typer.Option(..., "--kind", help="permanent or temporary."),
    amount: str = typer.Option(
        ..., "--amount", help="permanent: the limit asked for; temporary: the amount on top."
    ),
    months: int | None = typer.Option(None, "--months", help="temporary: how many months."),
    purpose: str | None = typer.Option(None, "--purpose", help="What it is for (recorded)."),
    policy: str | None = LIMITS_POLICY_OPTION,
    model: Path | None = typer.Option(
        None, "--model", help="Model folder; default: the registry's scorecard champion."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Decision date"),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide a request for a permanent or temporary increase now, with reasons."""
    from cardpilot.jobs.requests import RequestError, request_increase

    limits, customer = load_policies(policy)
    try:
        amount_minor = to_minor(amount)
    except MoneyError as exc:
        raise fail(f"--amount {amount!r}: {exc}") from None
    family = customer.advice.model_family if customer.advice is not None else "scorecard"
    scorer = load_scorer(model, family)
    db = open_engine(database)
    try:
        result = request_increase(
            db, account, kind=kind, amount_minor=amount_minor, months=months, purpose=purpose,
            scorer=scorer, limits=limits, customer=customer, today=parse_as_of(as_of),
        )  # fmt: skip
    except RequestError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json("request increase", {**result, "currency": limits.limits.currency})
        return
    _print(result)


def _print(result: dict[str, Any]) -> None:
    console.print(f"request {result['id']} ({result['kind']}): {result['action']}")
    if result["new_limit_minor"] is not None:
        console.print(
            f"  limit {format_major(result['old_limit_minor'])} →"
            f" {format_major(result['new_limit_minor'])}"
        )
    if result["temporary_limit_minor"] is not None:
        console.print(
            f"  temporary {format_major(result['temporary_limit_minor'])}"
            f" until {result['expires_on']}"
        )
    for zh, en in zip(result["reason_texts_zh"], result["reason_texts_en"], strict=True):
        console.print(f"  · {zh} / {en}")


@request_app.command("expire")
def expire(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Temporary limits expiring on or before"
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Take off the temporary limits whose expiry date has come (run daily)."""
    from cardpilot.jobs.requests import expire_temporary_limits

    db = open_engine(database)
    try:
        expired = expire_temporary_limits(db, parse_as_of(as_of))
    finally:
        db.dispose()
    if as_json:
        print_json("request expire", {"expired": expired})
        return
    console.print(f"{len(expired)} temporary limits expired")
