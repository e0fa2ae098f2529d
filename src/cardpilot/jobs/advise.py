"""``cardpilot advise ACCOUNT``: what this customer can do to reach the next grade.

The account and its statement window are read as the review reads them
(``cardpilot.store.one_account``); the advice itself is ``cardpilot.customer.advice``: the
customer policy's actions simulated on the account's next statements and rescored by the model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from cardpilot.batch.dates import default_as_of
from cardpilot.batch.scoring import Scorer, model_version_of
from cardpilot.customer.advice import advise
from cardpilot.policy.customer import CustomerPolicy
from cardpilot.policy.schema import Policy
from cardpilot.store.one_account import account_chunk


class AdviceError(ValueError):
    """Advice that cannot be given: names the account or the policy section missing."""


def advise_account(
    db: Engine,
    account_id: str,
    model: Scorer,
    limits: Policy,
    customer: CustomerPolicy,
    *,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """The account's advice (``cardpilot.customer.advice.advise``) with the versions that
    made it."""
    if customer.advice is None:
        raise AdviceError("the policy's customer.yaml has no advice section")
    as_of = as_of or default_as_of(db)
    chunk = account_chunk(db, account_id, as_of)
    if chunk is None:
        raise AdviceError(f"account {account_id!r} is not in the store")
    if chunk.frames.statements.height == 0:
        raise AdviceError(f"account {account_id!r} has no statement before {as_of}: no score yet")
    advice = advise(chunk.frames, as_of, model, limits, customer.advice)
    if not advice:
        raise AdviceError(f"account {account_id!r} could not be scored as of {as_of}")
    return {
        **advice[0],
        "as_of": as_of.isoformat(),
        "policy_version": limits.version,
        "customer_policy_version": customer.version,
        "model_version": model_version_of(model),
    }
