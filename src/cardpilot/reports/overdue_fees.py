"""Fees charged and waived, as the overdue report states them, exact in minor units.

Each treatment decision stores the charges it assessed (``penalty_interest_minor``,
``late_fee_minor``: penalty interest for its days past due on its overdue balance plus the late
fee on the unpaid minimum payment of the latest statement, capped; ``overdue.charges``) and the
waived share (``fee_waived_minor``), and ``fee_totals`` sums them. Decisions stored before
migration 0009 have no charges; for those it derives them as it used to, exactly (integer
fen), with ``assess_charges`` under the policy they were made with. Plans store their own
amounts: the penalty fees under the plan, the waiver standing (final when kept, provisional
while active) and what was reinstated when a plan broke.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine

from cardpilot.domain.fees import OverdueBalances
from cardpilot.domain.money import BP, format_major
from cardpilot.overdue.charges import assess_charges
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.store.overdue_report_reads import (
    UnchargedTreatment,
    latest_treatment_date,
    plan_fees_by_status,
    stored_charges_by_segment,
    treatment_policy_versions,
    uncharged_treatments,
)

PLAN_STATUSES_WITH_FEES = ("accepted", "active", "kept", "broken")


class OverdueReportError(ValueError):
    """The report cannot be made as asked: says why and what to do."""


@dataclass
class FeeTotals:
    """Fees charged and waived, integer minor units (fen for CNY)."""

    as_of: dt.date | None
    currency: str
    treatments: int = 0
    penalty_interest_minor: int = 0
    late_fee_minor: int = 0
    charged_minor: int = 0  # penalty interest + late fee of the date's decisions, capped
    treatment_waived_minor: int = 0  # the treatments' waiver share of what they charged
    plans: int = 0
    plan_penalty_fees_minor: int = 0  # penalty fees the plans' 和谐还款 waiver applies to
    plan_waived_kept_minor: int = 0  # waived for good (plans kept)
    plan_waived_active_minor: int = 0  # provisionally waived (plans active)
    plan_reinstated_minor: int = 0  # charged back (plans broken)
    by_segment: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def waived_minor(self) -> int:
        """Waived for good: the treatments' waivers plus the waivers of kept plans."""
        return self.treatment_waived_minor + self.plan_waived_kept_minor

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"as_of": None if self.as_of is None else self.as_of.isoformat()}
        for key, value in asdict(self).items():
            if key.endswith("_minor"):
                out[key.removesuffix("_minor")] = format_major(value)
            elif key == "by_segment":
                out[key] = {
                    seg: {k.removesuffix("_minor"): format_major(v) for k, v in figures.items()}
                    for seg, figures in value.items()
                }
            elif key != "as_of":
                out[key] = value
        out["waived"] = format_major(self.waived_minor)
        return out

    def add(self, segment: str, n: int, interest: int, late: int, waived: int) -> None:
        """Count ``n`` treatment decisions of ``segment`` with these charges and waivers."""
        self.treatments += n
        self.penalty_interest_minor += interest
        self.late_fee_minor += late
        self.charged_minor += interest + late
        self.treatment_waived_minor += waived
        seg = self.by_segment.setdefault(segment, {"charged_minor": 0, "waived_minor": 0})
        seg["charged_minor"] += interest + late
        seg["waived_minor"] += waived


def policy_for_store(db: Engine, as_of: dt.date | None = None) -> OverduePolicy:
    """The shipped policy (``policies/*/overdue.yaml``) the treatments of ``as_of`` (default:
    the latest date) were made under; the default policy when none matches or none is stored."""
    from cardpilot.overdue.loading import default_overdue_policy_path, load_overdue_policy

    with db.connect() as conn:
        day = latest_treatment_date(conn, as_of)
        stored = set(treatment_policy_versions(conn, day)) if day is not None else set()
    default = load_overdue_policy()
    if not stored or default.version in stored:
        return default
    for folder in sorted(default_overdue_policy_path().parent.parent.iterdir()):
        if (folder / "overdue.yaml").is_file():
            candidate = load_overdue_policy(folder)
            if candidate.version in stored:
                return candidate
    return default


def _derived(policy: OverduePolicy, t: UnchargedTreatment) -> tuple[int, int, int]:
    """Penalty interest, late fee and waiver of a decision stored without its charges, as the
    treatment would have assessed them."""
    minimum = t.minimum_due_minor
    unpaid = 0 if minimum is None else max(0, minimum - (t.amount_paid_minor or 0))
    charges = assess_charges(
        policy,
        t.segment,
        OverdueBalances(principal_minor=max(0, t.overdue_balance_minor)),
        t.days_past_due,
        unpaid,
    )
    waived = (charges.total_minor * t.fee_waiver_share_bp + BP // 2) // BP  # as treated
    return charges.penalty_interest_minor, charges.late_fee_minor, waived


def fee_totals(db: Engine, policy: OverduePolicy, as_of: dt.date | None = None) -> FeeTotals:
    """Fees charged and waived by the treatment decisions of ``as_of`` (default: the latest
    treatment date) and by every 和谐还款 plan in the store, exact in minor units.

    The decisions' charges and waivers are the amounts stored with them (assessed by the
    treatment). Raises ``OverdueReportError`` when the date's decisions were made under another
    policy version: the amounts are in that policy's currency and terms (and decisions stored
    before migration 0009 are derived with ``policy``), so they would be mislabelled."""
    totals = FeeTotals(as_of=None, currency=policy.file.currency)
    with db.connect() as conn:
        day = as_of or latest_treatment_date(conn)
        totals.as_of = day
        if day is not None:
            versions = treatment_policy_versions(conn, day)
            if versions and versions != [policy.version]:
                raise OverdueReportError(
                    f"the treatments of {day} were made under policy {', '.join(versions)}, "
                    f"not {policy.version}: pass --policy the folder they were made with"
                )
            for s in stored_charges_by_segment(conn, day):
                totals.add(
                    s.segment,
                    s.treatments,
                    s.penalty_interest_minor,
                    s.late_fee_minor,
                    s.waived_minor,
                )
            for t in uncharged_treatments(conn, day):
                totals.add(t.segment, 1, *_derived(policy, t))
        for p in plan_fees_by_status(conn):
            totals.plans += p.plans
            if p.status in PLAN_STATUSES_WITH_FEES:
                totals.plan_penalty_fees_minor += p.penalty_fees_minor
            if p.status == "kept":
                totals.plan_waived_kept_minor += p.waived_minor
            elif p.status == "active":
                totals.plan_waived_active_minor += p.waived_minor
            totals.plan_reinstated_minor += p.reinstated_minor
    totals.by_segment = dict(sorted(totals.by_segment.items()))
    return totals
