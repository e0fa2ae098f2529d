"""The watch after large increases: ``cardpilot watch [--check]``.

A review starts the watches in its own transactions and checks them when it ends; this checks
them again on later statements (``--check``) and lists every watch with its flags, and what
followed them (the policy's ``watch_actions``, ``cardpilot.watch.actions``). The rules are
``cardpilot.watch.rules``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine

from cardpilot.batch.dates import default_as_of
from cardpilot.policy.schema import Policy
from cardpilot.store.watch_actions import watch_action_counts
from cardpilot.watch.checks import check_watches, watch_list


@dataclass(frozen=True)
class WatchReport:
    flags_added: int  # by this check (0 without one)
    watches: pl.DataFrame  # ``watch_list``: one row per watch, most flags first
    actions: dict[str, int]  # the stored actions by action (``notice``, ``hold_increases``, …)


def watch_accounts(
    db: Engine,
    policy: Policy,
    *,
    check: bool = False,
    as_of: dt.date | None = None,
    locale: str = "zh-CN",
) -> WatchReport:
    """The watches with their flags; ``check``: check the statements up to ``as_of`` (default:
    the latest) against the rules first."""
    added = check_watches(db, policy, as_of or default_as_of(db)) if check else 0
    return WatchReport(added, watch_list(db, policy, locale), watch_action_counts(db))
