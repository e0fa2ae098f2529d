"""Delinquency as domain values: days past due, buckets, consecutive overdue months.

The one-account view of aging. The vectorised aging of a whole portfolio lives in
``cardpilot.overdue.aging`` and must agree with these functions (a parity test checks it).

Bucket convention used by Chinese issuers (and most others): ``current`` is not past due;
``M1`` is 1–30 days past due, ``M2`` 31–60, … ``M6`` 151–180 and ``M7+`` more than 180 days,
where write-off (核销) is usually considered. The boundaries and the write-off threshold are
policy values (``overdue.yaml``: ``aging.buckets``, ``aging.write_off_after_days``); this module
only knows how to read a scale, not which scale a bank uses.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CURRENT = "current"

# UCI repayment status (PAY_x) → days past due; docs/CONTRACTS.md "UCI mapping".
# -2 no consumption, -1 paid in full, 0 revolving credit (minimum paid): not overdue.
# 1..8 months of payment delay: 30 days per month; 9 means "nine months and above": 270.
UCI_NOT_OVERDUE_CODES: frozenset[int] = frozenset({-2, -1, 0})
UCI_MAX_CODE = 9
DAYS_PER_DELAY_MONTH = 30


class DelinquencyError(ValueError):
    """A value that cannot be aged (unknown status code, bad bucket scale)."""


def dpd_from_repayment_status(code: int) -> int:
    """Days past due for a UCI repayment status code (-2..9)."""
    if code in UCI_NOT_OVERDUE_CODES:
        return 0
    if 1 <= code <= UCI_MAX_CODE:
        return DAYS_PER_DELAY_MONTH * code
    raise DelinquencyError(f"unknown repayment status {code}; expected -2, -1, 0 or 1..9")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One delinquency bucket: days past due in ``[min_dpd, max_dpd]`` (``None`` = open)."""

    code: str
    min_dpd: int
    max_dpd: int | None

    def contains(self, dpd: int) -> bool:
        return dpd >= self.min_dpd and (self.max_dpd is None or dpd <= self.max_dpd)


@dataclass(frozen=True, slots=True)
class BucketScale:
    """An ordered, contiguous set of buckets covering every ``dpd >= 0``."""

    buckets: tuple[Bucket, ...]

    def __post_init__(self) -> None:
        check_bucket_scale(self.buckets)

    @classmethod
    def from_upper_bounds(cls, bounds: Sequence[tuple[str, int | None]]) -> BucketScale:
        """From ``[(code, max_dpd), …]`` in order; the first starts at 0, the last is open."""
        out: list[Bucket] = []
        low = 0
        for code, high in bounds:
            out.append(Bucket(code, low, high))
            low = (high if high is not None else low) + 1
        return cls(tuple(out))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(b.code for b in self.buckets)

    def bucket_for(self, dpd: int) -> str:
        if dpd < 0:
            raise DelinquencyError(f"days past due cannot be negative: {dpd}")
        for bucket in self.buckets:
            if bucket.contains(dpd):
                return bucket.code
        raise DelinquencyError(f"no bucket holds {dpd} days past due")  # pragma: no cover

    def rank(self, code: str) -> int:
        """Position of a bucket (0 = current): roll rates compare ranks."""
        try:
            return self.codes.index(code)
        except ValueError as exc:
            raise DelinquencyError(f"unknown bucket {code!r}; known: {self.codes}") from exc


def check_bucket_scale(buckets: Sequence[Bucket]) -> None:
    """Raise unless the buckets start at 0, are contiguous, and only the last is open."""
    if not buckets:
        raise DelinquencyError("a bucket scale needs at least one bucket")
    if buckets[0].min_dpd != 0 or buckets[0].max_dpd != 0:
        raise DelinquencyError("the first bucket must be exactly 0 days past due (current)")
    seen: set[str] = set()
    for prev, nxt in itertools.pairwise(buckets):
        if prev.max_dpd is None:
            raise DelinquencyError(f"only the last bucket may be open-ended, not {prev.code!r}")
        if nxt.min_dpd != prev.max_dpd + 1:
            raise DelinquencyError(f"bucket {nxt.code!r} must start at {prev.max_dpd + 1} dpd")
    for b in buckets:
        if b.code in seen:
            raise DelinquencyError(f"bucket {b.code!r} appears twice")
        seen.add(b.code)
        if b.max_dpd is not None and b.max_dpd < b.min_dpd:
            raise DelinquencyError(f"bucket {b.code!r} ends before it starts")
    if buckets[-1].max_dpd is not None:
        raise DelinquencyError(f"the last bucket {buckets[-1].code!r} must be open-ended")


# The scale the default policy ships (overdue.yaml) and the docs describe.
STANDARD_SCALE = BucketScale.from_upper_bounds(
    [
        (CURRENT, 0),
        ("M1", 30),
        ("M2", 60),
        ("M3", 90),
        ("M4", 120),
        ("M5", 150),
        ("M6", 180),
        ("M7+", None),
    ]
)


@dataclass(frozen=True, slots=True)
class CycleStatus:
    """One statement cycle as aging sees it."""

    cycle_date: dt.date
    days_past_due: int
    statement_balance_minor: int


@dataclass(frozen=True, slots=True)
class AccountAging:
    """Where one account stands on ``as_of``."""

    days_past_due: int
    bucket: str
    cycles_delinquent: int
    consecutive_overdue_months: int
    cures: int
    balance_minor: int
    overdue_balance_minor: int
    write_off: bool


def days_past_due_on(last: CycleStatus, as_of: dt.date) -> int:
    """Days past due on ``as_of`` from the latest cycle on or before it.

    A cycle overdue by ``d`` days at its cycle date is ``d + (as_of - cycle_date)`` days overdue
    on ``as_of``: nothing after the statement says it was paid. A cycle that was not overdue
    stays at 0 until the next statement says otherwise (a payment after the statement is
    unknown until then).
    """
    if last.cycle_date > as_of:
        raise DelinquencyError(f"cycle {last.cycle_date} is after the as-of date {as_of}")
    if last.days_past_due <= 0:
        return 0
    return last.days_past_due + (as_of - last.cycle_date).days


def consecutive_overdue_months(dpd_oldest_first: Sequence[int]) -> int:
    """Number of most recent consecutive cycles that were overdue (0 if the latest was not)."""
    run = 0
    for dpd in reversed(dpd_oldest_first):
        if dpd <= 0:
            break
        run += 1
    return run


def cures(dpd_oldest_first: Sequence[int]) -> int:
    """How many times the account went from overdue back to current."""
    return sum(1 for prev, nxt in itertools.pairwise(dpd_oldest_first) if prev > 0 and nxt <= 0)


def age_account(
    cycles: Iterable[CycleStatus],
    as_of: dt.date,
    scale: BucketScale = STANDARD_SCALE,
    write_off_after_days: int | None = 180,
) -> AccountAging | None:
    """Age one account's cycles on ``as_of`` (``None`` when it has no cycle by then)."""
    history = sorted((c for c in cycles if c.cycle_date <= as_of), key=lambda c: c.cycle_date)
    if not history:
        return None
    last = history[-1]
    dpd = days_past_due_on(last, as_of)
    dpds = [c.days_past_due for c in history]
    balance = max(last.statement_balance_minor, 0)
    return AccountAging(
        days_past_due=dpd,
        bucket=scale.bucket_for(dpd),
        cycles_delinquent=sum(1 for d in dpds if d > 0),
        consecutive_overdue_months=consecutive_overdue_months(dpds),
        cures=cures(dpds),
        balance_minor=balance,
        overdue_balance_minor=balance if dpd > 0 else 0,
        write_off=write_off_after_days is not None and dpd > write_off_after_days,
    )
