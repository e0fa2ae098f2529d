"""A plan quote as JSON, one form for the CLI's ``--json`` and the HTTP API: the schedule and
its rates, amounts as decimal strings in major units beside the currency."""

from __future__ import annotations

from typing import Any

from cardpilot.domain.money import format_major
from cardpilot.domain.plans import PlanQuote


def quote_json(q: PlanQuote, policy_version: str | None, currency: str) -> dict[str, Any]:
    return {
        "kind": q.kind.value,
        "currency": currency,
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
