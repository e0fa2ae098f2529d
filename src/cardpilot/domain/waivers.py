"""Who waives which fee, and what a 和谐还款 plan schedules: one place for the bookkeeping of
penalty fees between an overdue treatment and a plan, exact in fen.

* **One waiver source per fee.** The penalty fees (penalty interest and 违约金) an overdue
  treatment charged are waived by at most one source. When the treatment waived a share of
  them (a low-risk segment's waiver), that share is final and the plan's 和谐还款 waiver does
  not apply to the same fees again; when the treatment waived nothing, the plan's waiver
  applies to all of them. So ``treatment waived + plan waived ≤ charged`` always holds.
* **The plan schedules the unwaived fees.** What is neither waived by the treatment nor by the
  plan is spread over the plan's instalments like the principal (the first takes the
  remainder), with no plan fee on it: fees never bear interest or fees (银发〔2016〕111号,
  confirmed).
* **A re-offer is priced on the current balance.** A plan rests on the overdue balance of the
  treatment it follows, less what the account paid since that treatment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cardpilot.domain.fees import ChargeError, waived_amount
from cardpilot.domain.plans import split_principal


@dataclass(frozen=True, slots=True)
class FeeWaivers:
    """The penalty fees of one treatment and their waivers (fen)."""

    charged_minor: int  # penalty interest + 违约金 the treatment charged
    treatment_waived_minor: int  # the treatment's waiver of them
    plan_waivable_minor: int  # the part whose waiver source is the plan (0 or all)
    plan_share_bp: int

    @property
    def plan_waived_minor(self) -> int:
        """The plan's waiver when it becomes active (provisional until kept)."""
        return waived_amount(self.plan_waivable_minor, self.plan_share_bp)

    @property
    def waived_minor(self) -> int:
        return self.treatment_waived_minor + self.plan_waived_minor

    @property
    def unwaived_minor(self) -> int:
        """What the customer still owes of the fees: the plan schedules it."""
        return self.charged_minor - self.waived_minor


def split_waivers(
    charged_minor: int, treatment_waived_minor: int, plan_share_bp: int
) -> FeeWaivers:
    """The fees' single waiver source: the treatment when it waived any of them, else the
    plan (at ``plan_share_bp``)."""
    if charged_minor < 0 or not 0 <= treatment_waived_minor <= charged_minor:
        raise ChargeError(
            f"a treatment cannot waive {treatment_waived_minor} of {charged_minor} fen charged"
        )
    waivable = 0 if treatment_waived_minor > 0 else charged_minor
    return FeeWaivers(charged_minor, treatment_waived_minor, waivable, plan_share_bp)


def schedule_fees(
    instalments: Sequence[tuple[dt.date, int]], fees_minor: int
) -> list[tuple[dt.date, int]]:
    """The instalments with ``fees_minor`` spread over them (first takes the remainder)."""
    if fees_minor < 0:
        raise ChargeError(f"fees to schedule cannot be negative: {fees_minor}")
    if not instalments:
        raise ChargeError("fees need at least one instalment to be scheduled in")
    parts = split_principal(fees_minor, len(instalments))
    return [(due, amount + part) for (due, amount), part in zip(instalments, parts, strict=True)]


def current_balance(treated_balance_minor: int, paid_since_minor: int) -> int:
    """The balance a plan is priced on: the treated overdue balance less what was paid since,
    never below 0."""
    return max(0, treated_balance_minor - max(0, paid_since_minor))
