"""``cardpilot ledger check``: every invariant of the ledger over the whole store.

The postings are read whole accounts at a time (``store.ledger.iter_account_postings``) and
each chunk is checked by the pure, vectorised checks of :mod:`cardpilot.ledger.invariants`;
memory stays bounded by one chunk whatever the store's size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from cardpilot.domain.fees import ChargeRules
from cardpilot.ledger.invariants import (
    INVARIANTS,
    VIOLATION_SCHEMA,
    check_postings,
    stated_balances,
)
from cardpilot.store import ledger as store_ledger

EXAMPLES = 10  # violations shown with their account, posting and detail


@dataclass
class LedgerCheck:
    accounts: int = 0
    postings: int = 0
    violations: int = 0
    by_invariant: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INVARIANTS, 0))
    # Statements reconciled with the postings (imported statements and statement memos).
    statements_checked: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    policy: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "violations": self.violations,
            "postings": self.postings,
            "statements_checked": self.statements_checked,
            "by_invariant": self.by_invariant,
            "examples": self.examples,
            "policy": self.policy,
            "seconds": self.seconds,
        }


def check_ledger(db: Engine, rules: ChargeRules | None = None) -> LedgerCheck:
    """Check every account's postings; the counts, by invariant, and the first examples."""
    rules = rules or ChargeRules()
    started = time.perf_counter()
    result = LedgerCheck(
        policy={
            "interest_on_fees": rules.interest_on_fees,
            "compound_penalty": rules.compound_penalty,
        }
    )
    for chunk, statements in store_ledger.iter_account_postings(db):
        found = check_postings(chunk, rules, statements)
        result.accounts += chunk["account_id"].n_unique()
        result.postings += chunk.height
        result.statements_checked += stated_balances(chunk, statements).height
        result.violations += found.height
        for name, count in found.group_by("invariant").len().iter_rows():
            result.by_invariant[name] += int(count)
        room = EXAMPLES - len(result.examples)
        if room > 0 and found.height:
            result.examples.extend(found.head(room).cast(VIOLATION_SCHEMA).to_dicts())  # type: ignore[arg-type]
    result.seconds = round(time.perf_counter() - started, 3)
    return result


__all__ = ["LedgerCheck", "check_ledger"]
