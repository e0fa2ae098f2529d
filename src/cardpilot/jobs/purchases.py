"""``cardpilot plan purchase``: plan a large purchase for one account.

The account's position is read from the store (limit, grade, the customer's declared income) and
its ledger (the balance as of today, the instalments due in the months ahead); the options are
``cardpilot.customer.purchases.plan_purchase``. Nothing is written: a plan is a proposal.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from cardpilot.customer.purchases import (
    AccountPosition,
    PlanOption,
    PurchaseError,
    PurchaseRequest,
    plan_purchase,
)
from cardpilot.policy.customer import CustomerPolicy
from cardpilot.policy.schema import Policy
from cardpilot.store.customer_reads import account_position, largest_month_of_instalments
from cardpilot.store.ledger import account_balance

__all__ = ["PurchaseError", "plan_account_purchase"]


def plan_account_purchase(
    db: Engine,
    account_id: str,
    *,
    purpose: str,
    amount_minor: int,
    months: int,
    monthly_income_minor: int | None,
    limits: Policy,
    customer: CustomerPolicy,
    today: dt.date,
) -> tuple[AccountPosition, PurchaseRequest, list[PlanOption]]:
    """The account's position, the request as planned (income from the store when not given:
    a twelfth of the declared annual income) and one option per product of the purpose."""
    if customer.purchases is None:
        raise PurchaseError("the policy's customer.yaml has no purchases section")
    with db.connect() as conn:
        row = account_position(conn, account_id)
        if row is None:
            raise PurchaseError(f"account {account_id!r} is not in the store")
        balance = account_balance(conn, account_id, today)["total"]
        existing = largest_month_of_instalments(conn, account_id, today)
    if row["currency"] != customer.currency:
        raise PurchaseError(
            f"account {account_id!r} is in {row['currency']}, the policy in {customer.currency}:"
            " pass --policy with a customer.yaml in the account's currency"
        )
    position = AccountPosition(
        account_id=account_id,
        currency=row["currency"],
        credit_limit_minor=int(row["credit_limit_minor"]),
        balance_minor=balance,
        grade=row["grade"],
        existing_monthly_minor=existing,
        limit_step_minor=limits.limits.rounding.limit_step_minor,
    )
    income = monthly_income_minor
    if income is None and row["annual_income_minor"] is not None:
        income = int(row["annual_income_minor"]) // 12
    request = PurchaseRequest(purpose, amount_minor, months, today, income)
    texts = customer.reason_texts()
    return position, request, plan_purchase(request, position, customer.purchases, texts)
