"""Champion/challenger tests on live accounts, pure: which arm an account falls in.

An account's arm is a function of its id and the test's name only: a BLAKE2b digest of both,
read as an integer ``h`` in ``[0, 2**64)``, puts the account in the challenger arm when
``h / 2**64 < share``. The comparison is made in integers (``h * 10_000 < share_bp * 2**64``),
so no float rounding can move an account between arms: every run, every process and every
engine (the local one, a Spark executor) assigns the same arm. A different test name gives an
independent split of the same accounts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import polars as pl

from cardpilot.domain.money import BP

CHAMPION = "champion"
CHALLENGER = "challenger"
ARMS = (CHAMPION, CHALLENGER)
# What a test can run on: the limit review, or the overdue treatment.
KINDS = ("limits", "overdue")
# running: reviews split the accounts; stopped: no longer split (the champion decides all);
# promoted: stopped, and its challenger is the champion policy of later reviews.
STATUSES = ("running", "stopped", "promoted")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_SCALE = 1 << 64

P = TypeVar("P")


class ExperimentSpecError(ValueError):
    """A test's settings are out of range: names the setting and the fix."""


def _keyed(test: str) -> Any:
    """The test's keyed hash before any account: copied per account (cheaper than keying it
    again, and the same digest)."""
    return hashlib.blake2b(digest_size=8, key=test.encode()[:64], person=b"cardpilot-exp")


def _position(keyed: Any, account_id: str) -> int:
    h = keyed.copy()
    h.update(account_id.encode())
    return int.from_bytes(h.digest(), "big")


def unit_hash(account_id: str, test: str) -> int:
    """The account's position in the test, an integer in ``[0, 2**64)``."""
    return _position(_keyed(test), account_id)


def in_challenger(account_id: str, test: str, share_bp: int) -> bool:
    """True when the account is in the challenger arm of a test giving it ``share_bp`` of 10,000."""
    return unit_hash(account_id, test) * BP < share_bp * _SCALE


def arm_of(account_id: str, test: str, share_bp: int) -> str:
    """``challenger`` or ``champion``."""
    return CHALLENGER if in_challenger(account_id, test, share_bp) else CHAMPION


def arms_of(account_ids: Iterable[str], test: str, share_bp: int) -> list[str]:
    """The arm of each account, in order."""
    limit, keyed = share_bp * _SCALE, _keyed(test)
    return [CHALLENGER if _position(keyed, a) * BP < limit else CHAMPION for a in account_ids]


def arm_column(account_ids: pl.Series, test: str, share_bp: int) -> pl.Series:
    """The arms of a column of account ids, as a ``String`` column named ``arm``."""
    return pl.Series("arm", arms_of(account_ids.to_list(), test, share_bp), dtype=pl.String)


@dataclass(frozen=True)
class ExperimentSpec:
    """A test as policy data: which two policies (as ``--policy`` names them), on what share of
    the accounts, from when, and the error rates its minimum detectable effect is stated at."""

    name: str
    kind: str  # limits | overdue
    champion: str
    challenger: str
    share_bp: int  # the challenger's share of the accounts, in basis points
    start_on: dt.date
    alpha_bp: int = 500  # two-sided significance level: 5 %
    power_bp: int = 8000  # power at the stated minimum detectable effect: 80 %

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ExperimentSpecError(
                f"test name {self.name!r}: use 1-64 lower-case letters, digits, '.', '_' or '-'"
                " starting with a letter or digit"
            )
        if self.kind not in KINDS:
            raise ExperimentSpecError(f"kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if not 0 < self.share_bp < BP:
            raise ExperimentSpecError(
                f"share {self.share_bp / BP}: the challenger's share must be above 0 and below 1"
            )
        if not 0 < self.alpha_bp < BP // 2:
            raise ExperimentSpecError(f"alpha {self.alpha_bp / BP}: use a level in (0, 0.5)")
        if not BP // 2 <= self.power_bp < BP:
            raise ExperimentSpecError(f"power {self.power_bp / BP}: use a power in [0.5, 1)")
        if self.champion == self.challenger:
            raise ExperimentSpecError("the challenger is the champion: name two different policies")


@dataclass(frozen=True)
class Arms(Generic[P]):
    """A running test's two loaded policies: what a review or treatment splits the accounts by."""

    name: str
    share_bp: int
    champion: P
    challenger: P
    start_on: dt.date | None = None  # a run dated before it is refused

    def policy(self, arm: str) -> P:
        return self.challenger if arm == CHALLENGER else self.champion

    def starts_after(self, as_of: dt.date) -> bool:
        """True when a run dated ``as_of`` comes before the test's start."""
        return self.start_on is not None and as_of < self.start_on
