"""Plans as JSON, one form for the CLI's ``--json`` and the HTTP API: a quote's schedule and
rates, and a stored 和谐还款 plan with its events. Amounts are decimal strings in yuan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cardpilot.domain.money import format_major
from cardpilot.domain.plans import PlanQuote


def quote_json(q: PlanQuote, policy_version: str | None) -> dict[str, Any]:
    return {
        "kind": q.kind.value,
        "principal": format_major(q.principal_minor),
        "months": q.months,
        "defer_months": q.defer_months,
        "start": q.start.isoformat(),
        "monthly_rate": str(q.monthly_rate),
        "nominal_annual_rate": str(q.nominal_annual_rate),
        "irr_monthly": str(q.irr_monthly),
        "apr": str(q.apr),
        "apr_basis": "monthly IRR x 12 (simple annualisation)",
        "ear": str(q.ear),
        "total_fee": format_major(q.total_fee_minor),
        "total_paid": format_major(q.total_paid_minor),
        "policy_version": policy_version,
        "payments": [
            {
                "n": p.n,
                "due_date": p.due_date.isoformat(),
                "principal": format_major(p.principal_minor),
                "fee": format_major(p.fee_minor),
                "total": format_major(p.total_minor),
            }
            for p in q.payments
        ],
    }


def _yuan(minor: int | None) -> str | None:
    return None if minor is None else format_major(minor)


def plan_json(view: Any) -> dict[str, Any]:
    """A stored plan (``jobs.plans.PlanView``): amounts as decimal strings in major units."""
    data: dict[str, Any] = view.as_json()
    for key in (
        "principal_minor",
        "penalty_fees_minor",
        "paid_minor",
        "total_due_minor",
        "waived_minor",
        "reinstated_minor",
    ):
        data[key.removesuffix("_minor")] = _yuan(data.pop(key))
    data["waiver_share"] = str(Decimal(data.pop("waiver_share_bp")) / 100)
    data["instalments"] = [
        {"due_date": i["due_date"], "amount": _yuan(i["amount_minor"])} for i in data["instalments"]
    ]
    for e in data["events"]:
        e["amount"] = _yuan(e.pop("amount_minor"))
    return data
