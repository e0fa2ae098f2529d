"""``cardpilot overdue remind --as-of DATE``: queue the day's reminders and education messages.

    store ─(account-id chunks)─► reminder_input ─► plan_reminders ─► notices ─► outbox

The chunked job loop (``batch.loop``) reads the store in chunks of accounts
(``store.reminder_reads``: keyset paging in account-id order, as the treatment job does): each
with its statements, the payments since its latest statement (``transactions`` of kind
``payment``, dated in the issuer's time zone, ``CARDPILOT_TIMEZONE``, Asia/Shanghai by
default), its latest overdue treatment and its customers' education opt-ins;
``cardpilot.overdue.reminders.plan_reminders`` decides which messages fall due; their notices
(``notify.reminder_notices``) are queued through the outbox in one transaction per chunk.

Idempotent: each message's reference is (rule, anchor date, account): the statement's cycle
date for statement rules, the day for treatment-path steps. The outbox key is derived from it
(``notify.outbox.message_key``) and inserted ``ON CONFLICT DO NOTHING``, so a re-run on the
same day (or after a crash) queues nothing twice. Quiet hours and frequency caps are not
decided here: the dispatcher applies them when it sends (docs/notifications.md).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from cardpilot.batch.currency import require_currency
from cardpilot.batch.loop import ChunkSteps, StageClock, run_chunked
from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.prefs import EDUCATION_TOPIC
from cardpilot.notify.reminder_notices import QueuedReminders, queue_reminders
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.reminders import apply_daily_cap, due_messages, reminder_input, reminders_of
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.policy.catalogue import OVERDUE
from cardpilot.store.contact_opt_ins import known_customers, upsert_opt_ins
from cardpilot.store.db import open_store
from cardpilot.store.portfolio_facts import account_count
from cardpilot.store.reminder_reads import (
    ReminderChunk,
    payments_known_through,
    read_reminder_chunks,
)

DEFAULT_CHUNK_ROWS = 50_000
PLAN_STAGE = "plan"

ProgressCallback = Callable[[int, int], None]


class RemindError(ValueError):
    """The reminders cannot run as asked: says what is wrong and what to do."""


@dataclass
class RemindResult:
    as_of: dt.date
    policy_version: str
    accounts: int = 0  # accounts read
    due: int = 0  # messages the rules made due (before the daily cap)
    suppressed: int = 0  # dropped by max_per_account_per_day
    planned: int = 0  # after the cap
    queued: int = 0  # outbox rows inserted by this run
    already_queued: int = 0  # outbox rows an earlier run of the day had inserted
    not_sent: int = 0  # planned messages with no channel left (opted out, no address)
    seconds: float = 0.0
    # The last day the store's payment data reaches (ledger imports, payments): "first day
    # overdue" is sent only for a due date on or before it (None: the store has no payment data).
    payments_known_through: dt.date | None = None
    by_rule: dict[str, int] = field(default_factory=dict)  # planned, per rule
    queued_by_type: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        known = self.payments_known_through
        out["payments_known_through"] = known.isoformat() if known else None
        return out


def send_reminders(
    database_url: str,
    *,
    as_of: dt.date,
    policy: OverduePolicy | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    now: dt.datetime | None = None,
    timezone: str | None = None,
    progress: ProgressCallback | None = None,
) -> RemindResult:
    """Plan and queue the reminders and education messages due on ``as_of`` for every account
    of the store. ``now``: the outbox rows' creation time (default: the clock); ``timezone``:
    the issuer's, in which payments are dated (default ``CARDPILOT_TIMEZONE``, Asia/Shanghai)."""
    from cardpilot.config import get_settings

    zone = ZoneInfo(timezone or get_settings().timezone)
    started = time.perf_counter()
    policy = policy or load_overdue_policy()
    reminders_of(policy)  # fail early without a reminders section
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    result = RemindResult(as_of=as_of, policy_version=policy.version)
    db = open_store(database_url)
    try:
        require_currency(
            db,
            policy.file.currency,
            error=RemindError,
            amounts="the overdue policy's amounts",
            fix="Use a policy in the accounts' currency.",
            kind=OVERDUE,
        )
        result.payments_known_through = payments_known_through(db, zone)
        by_rule: Counter[str] = Counter()
        by_type: Counter[str] = Counter()
        steps = _steps(db, policy, default_composer(), now, result, by_rule, by_type)
        chunks = read_reminder_chunks(db, as_of, chunk_rows, zone, EDUCATION_TOPIC)
        clock = StageClock(PLAN_STAGE)
        run_chunked(chunks, steps, clock=clock, total=account_count(db), progress=progress)
        result.suppressed = result.due - result.planned
        result.by_rule = dict(sorted(by_rule.items()))
        result.queued_by_type = dict(sorted(by_type.items()))
    finally:
        db.dispose()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _steps(
    db: Engine,
    policy: OverduePolicy,
    composer: Composer,
    now: dt.datetime,
    result: RemindResult,
    by_rule: Counter[str],
    by_type: Counter[str],
) -> ChunkSteps[ReminderChunk, Any, QueuedReminders]:
    """The reminders' steps of the chunked loop: plan a chunk's messages, queue them, count."""

    def decide(chunk: ReminderChunk, clock: StageClock) -> Any:
        result.accounts += chunk.seen
        if not (chunk.accounts.height and chunk.statements.height):
            return None
        with clock.timing(PLAN_STAGE):
            known = result.payments_known_through or dt.date.min
            table = reminder_input(
                chunk.statements,
                chunk.accounts,
                result.as_of,
                policy,
                payments=chunk.payments,
                treatments=chunk.treatments,
                opt_ins=chunk.opt_ins,
                payments_through=known,
            )
            due = due_messages(table, result.as_of, policy, payments_through=known)
            plan = apply_daily_cap(due, policy)
        result.due += due.height
        result.planned += plan.height
        by_rule.update(plan["rule"].to_list())
        return plan if plan.height else None

    def write(plan: Any, before_commit: Callable[[], None]) -> QueuedReminders:
        with db.begin() as conn:
            queued = queue_reminders(conn, plan, policy, composer, now)
            before_commit()
        return queued

    def collect(_plan: Any, queued: QueuedReminders) -> None:
        result.queued += queued.inserted
        result.already_queued += queued.existing
        result.not_sent += queued.unsent
        by_type.update(queued.by_type)

    return ChunkSteps(seen=lambda chunk: chunk.seen, decide=decide, write=write, collect=collect)


def record_opt_ins(
    database_url: str,
    customer_ids: list[str],
    *,
    opted_in: bool = True,
    source: str = "cli",
    at: dt.datetime | None = None,
) -> int:
    """Record (or withdraw) customers' consent to education messages; returns rows written.
    The latest record wins; withdrawing keeps the row with ``opted_in = false``."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    ids = list(dict.fromkeys(customer_ids))
    if not ids:
        return 0
    db = open_store(database_url)
    try:
        with db.begin() as conn:
            known = known_customers(conn, ids)
            unknown = [c for c in ids if c not in known]
            if unknown:
                raise RemindError(f"unknown customers: {', '.join(unknown[:5])}")
            return upsert_opt_ins(
                conn, ids, EDUCATION_TOPIC, opted_in=opted_in, at=at, source=source
            )
    finally:
        db.dispose()
