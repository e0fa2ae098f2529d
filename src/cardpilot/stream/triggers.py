"""Where the early-warning triggers run for the accounts a batch changed.

``evaluate_triggers`` is called once per batch, inside the batch's store transaction, with the
accounts whose running features the batch changed; whatever it writes (intervention decisions,
outbox rows) therefore commits with the batch's postings and features or not at all, and a
batch delivered again after a crash adds nothing twice (its events are duplicates by then, and
an intervention is stored once per account, rule and statement cycle).

The rules are the batch's (``warning.yaml``, ``warning.triggers.decide``): each changed
account's trigger state is built from its running features and what the store knows of it
(``warning.state.event_states``: its customer, the latest early-warning score of a
``cardpilot warn run``, its latest limit increase), and
``notify.warning_decisions.decide_online`` reads its intervention history, decides, stores and
queues in the same transaction. The policies are the shipped ones, or the folder named by
``CARDPILOT_WARNING_POLICY`` (warning.yaml with the overdue.yaml beside it).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from cardpilot.events.features import AccountFeatures
from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.warning_decisions import decide_online
from cardpilot.notify.warning_notices import AdviceTerms
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.store.warning_interventions import online_inputs
from cardpilot.warning.policy import WarningPolicy, load_warning_policy
from cardpilot.warning.state import event_states

POLICY_ENV = "CARDPILOT_WARNING_POLICY"


@dataclass(frozen=True)
class OnlineRules:
    """The policies and the composer the consumer's triggers use, loaded once."""

    warning: WarningPolicy
    terms: AdviceTerms
    composer: Composer
    zone: ZoneInfo


@cache
def online_rules(folder: str | None, timezone: str) -> OnlineRules:
    path = None if folder is None else Path(folder)
    warning = load_warning_policy(path)
    overdue = load_overdue_policy(path)
    return OnlineRules(
        warning, AdviceTerms.of(warning, overdue), default_composer(), ZoneInfo(timezone)
    )


def evaluate_triggers(
    conn: Connection, changed: Mapping[str, AccountFeatures], now: dt.datetime
) -> int:
    """Interventions stored for the ``changed`` accounts, in the caller's transaction.

    Each account is decided as of the day of its latest event in the issuer's zone (``now``'s
    day for one without), so a replay of history decides as the events happened."""
    if not changed:
        return 0
    from cardpilot.config import get_settings

    rules = online_rules(os.environ.get(POLICY_ENV), get_settings().timezone)
    by_day: dict[dt.date, dict[str, AccountFeatures]] = defaultdict(dict)
    for account, features in changed.items():
        at = features.last_occurred_at or now
        by_day[at.astimezone(rules.zone).date()][account] = features
    stored = online_inputs(conn, list(changed), max(by_day), rules.zone)
    added = 0
    for day, accounts in sorted(by_day.items()):
        decided = decide_online(
            conn,
            event_states(accounts, stored, day, rules.zone),
            warning=rules.warning,
            terms=rules.terms,
            composer=rules.composer,
            as_of=day,
            now=now,
        )
        added += len(decided.added)
    return added
