"""Who waives which fee, and what a 和谐还款 plan schedules: one place for the bookkeeping of
penalty fees between an overdue treatment and a plan, exact in fen.

* **One waiver source per fee.** The penalty fees (penalty interest and 违约金) an overdue
  treatment charged are waived by at most one source. When anything of them stands waived
  already (the treatment's share for a low-risk segment, or an earlier plan's waiver that was
  kept or is still active), the plan's 和谐还款 waiver does not apply to them again; when
  nothing of them is waived, the plan's waiver applies to all of them. So
  ``waived ≤ charged`` holds for every treatment's fees whatever plans follow.
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
    waived_before_minor: int  # standing waivers of them: the treatment's, earlier plans'
    plan_waivable_minor: int  # the part whose waiver source is the plan (0 or all)
    plan_share_bp: int

    @property
    def plan_waived_minor(self) -> int:
        """The plan's waiver when it becomes active (provisional until kept)."""
        return waived_amount(self.plan_waivable_minor, self.plan_share_bp)

    @property
    def waived_minor(self) -> int:
        return self.waived_before_minor + self.plan_waived_minor

    @property
    def unwaived_minor(self) -> int:
        """What the customer still owes of the fees: the plan schedules it."""
        return self.charged_minor - self.waived_minor


def split_waivers(charged_minor: int, waived_before_minor: int, plan_share_bp: int) -> FeeWaivers:
    """The fees' single waiver source: whoever waived them already (the treatment, an earlier
    plan) when anything of them stands waived, else the new plan (at ``plan_share_bp``)."""
    if charged_minor < 0 or not 0 <= waived_before_minor <= charged_minor:
        raise ChargeError(f"{waived_before_minor} fen waived of {charged_minor} fen charged")
    waivable = 0 if waived_before_minor > 0 else charged_minor
    return FeeWaivers(charged_minor, waived_before_minor, waivable, plan_share_bp)


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
