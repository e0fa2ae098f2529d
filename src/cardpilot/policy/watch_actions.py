"""What follows a watch flag: the ``watch_actions`` section of ``limits.yaml``.

Each watch rule (``cardpilot.watch.rules``) maps to one action, stored with the flag that raised
it and queued like a decision:

* ``notice``: a message to the cardholder (the ``watch_notice`` message type, through the
  outbox);
* ``hold_increases``: no increase until ``hold_months`` after the flagged statement (the review's
  guard, reason ``hold_reason``);
* ``analyst_case``: a case for an analyst (``review_cases``, opened with the flag);
* ``early_review``: the account may be reviewed again within its review cycle, on the
  statements since its last decision.

A small model of its own on the shared policy base, so the policy schema gains one field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cardpilot.policy.base import PolicyModel, ReasonCode

WatchActionKind = Literal["notice", "hold_increases", "analyst_case", "early_review"]
WATCH_ACTION_KINDS: tuple[str, ...] = ("notice", "hold_increases", "analyst_case", "early_review")
# The reason of an increase blocked by a hold when the policy names none.
DEFAULT_HOLD_REASON = "KEEP_WATCH_HOLD"


class WatchActions(PolicyModel):
    """The action of each watch rule, and how long a hold on increases lasts."""

    missed_payment: WatchActionKind
    utilisation_jump: WatchActionKind
    cash_advance_surge: WatchActionKind
    spending_spike: WatchActionKind
    # A hold lasts this many months from the flagged statement's cycle date.
    hold_months: int = Field(default=6, ge=1, le=24)
    hold_reason: ReasonCode = DEFAULT_HOLD_REASON

    def by_rule(self) -> dict[str, str]:
        """The action of every rule, by rule name (the watch rules' names)."""
        return {
            "missed_payment": self.missed_payment,
            "utilisation_jump": self.utilisation_jump,
            "cash_advance_surge": self.cash_advance_surge,
            "spending_spike": self.spending_spike,
        }
