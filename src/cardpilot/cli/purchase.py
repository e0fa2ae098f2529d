"""``cardpilot plan purchase ACCOUNT``: a temporary limit, a dedicated instalment, or both, for
a large purchase, after the affordability check; says in words why an option is not offered."""

from __future__ import annotations

from typing import Any

import typer

from cardpilot.cli.apply import load_policies
from cardpilot.cli.common import DATABASE_OPTION, LIMITS_POLICY_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json
from cardpilot.cli.plan import plan_app, print_quote, today_local
from cardpilot.domain.money import MoneyError, format_major, to_minor
from cardpilot.service.plans import quote_json


def _money(option: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return to_minor(value)
    except MoneyError as exc:
        raise fail(f"{option} {value!r}: {exc}") from None


@plan_app.command("purchase")
def purchase(
    account: str = typer.Argument(..., help="Account id."),
    purpose: str = typer.Option(..., "--purpose", help="car, home_furnishing, renovation, ..."),
    amount: str = typer.Option(..., "--amount", help="Price of the purchase, e.g. 120000."),
    months: int = typer.Option(..., "--months", help="Instalments wanted (the policy's tenors)."),
    income: str | None = typer.Option(
        None, "--income", help="Monthly income; default: a twelfth of the declared annual one."
    ),
    policy: str | None = LIMITS_POLICY_OPTION,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Plan a large purchase: the options the policy allows, each offered or said why not."""
    from cardpilot.jobs.purchases import PurchaseError, plan_account_purchase

    limits, customer = load_policies(policy)
    amount_minor = _money("--amount", amount)
    assert amount_minor is not None
    db = open_engine(database)
    try:
        position, request, options = plan_account_purchase(
            db,
            account,
            purpose=purpose,
            amount_minor=amount_minor,
            months=months,
            monthly_income_minor=_money("--income", income),
            limits=limits,
            customer=customer,
            today=today_local(),
        )
    except PurchaseError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    out = {
        "account_id": account,
        "currency": position.currency,
        "purpose": purpose,
        "amount": format_major(amount_minor),
        "months": months,
        "monthly_income": _major(request.monthly_income_minor),
        "existing_monthly_instalments": format_major(position.existing_monthly_minor),
        "available_credit": format_major(
            max(position.credit_limit_minor - position.balance_minor, 0)
        ),
        "customer_policy_version": customer.version,
        "options": [_option_json(o, customer.version, position.currency) for o in options],
    }
    if as_json:
        print_json("plan purchase", out)
        return
    _print(out, options)


def _major(value: int | None) -> str | None:
    return None if value is None else format_major(value)


def _option_json(option: Any, version: str, currency: str) -> dict[str, Any]:
    return {
        "product": option.product,
        "currency": currency,
        "offered": option.offered,
        "reasons": [{"code": r.code, "zh-CN": r.zh_cn, "en": r.en} for r in option.reasons],
        "monthly_payment": _major(option.monthly_payment_minor),
        "payment_to_income_bp": option.payment_to_income_bp,
        "debt_to_income_bp": option.debt_to_income_bp,
        "temporary_limit": _major(option.temporary_limit_minor),
        "expires_on": option.expires_on.isoformat() if option.expires_on else None,
        "quote": quote_json(option.quote, version, currency) if option.quote else None,
    }


def _print(out: dict[str, Any], options: list[Any]) -> None:
    console.print(
        f"{out['purpose']} {out['amount']} {out['currency']} over {out['months']} months;"
        f" monthly income {out['monthly_income'] or 'unknown'}, instalments already due"
        f" {out['existing_monthly_instalments']} a month"
    )
    for option, shown in zip(options, out["options"], strict=True):
        state = "offered" if option.offered else "not offered"
        console.print(f"[bold]{option.product}[/]: {state}")
        for r in shown["reasons"]:
            console.print(f"  · {r['zh-CN']} / {r['en']}")
        if option.temporary_limit_minor is not None:
            console.print(
                f"  temporary limit {shown['temporary_limit']} until {shown['expires_on']},"
                f" repaid {shown['monthly_payment']} a month"
            )
        if option.quote is not None:
            print_quote(option.quote)
