"""``cardpilot overdue remind --as-of DATE``: queue the day's reminders and education messages.

    store ─(account-id chunks)─► reminder_input ─► plan_reminders ─► notices ─► outbox

Each chunk of accounts (keyset paging in account-id order, as the treatment job does) is read
with its statements, the payments since its latest statement (``transactions`` of kind
``payment``, dated in Asia/Shanghai), its latest overdue treatment and its customers'
education opt-ins; ``cardpilot.overdue.reminders.plan_reminders`` decides which messages fall
due; their notices are queued through the outbox in one transaction per chunk.

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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from babel.numbers import get_currency_name
from sqlalchemy import Connection, Engine, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.notice import LimitChangeNotice
from cardpilot.notify.outbox import enqueue_notices, message_key
from cardpilot.notify.prefs import EDUCATION_TOPIC, ContactPrefs, load_prefs
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.reminders import (
    apply_daily_cap,
    due_messages,
    education_figures,
    reminder_input,
    reminders_of,
)
from cardpilot.overdue.schema import OverduePolicy, Segment
from cardpilot.store.db import open_store
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.notify_models import OutboxMessage
from cardpilot.store.overdue_models import ContactOptIn
from cardpilot.store.portfolio_facts import other_currencies

DEFAULT_CHUNK_ROWS = 50_000
REMINDED_STATUSES = ("active", "frozen")  # closed and charged-off accounts get no reminders
DEFAULT_ZONE = "Asia/Shanghai"  # calendar dates of payments (docs/overdue.md)
PAYMENT_LOOKBACK_DAYS = 62  # payments older than two cycles cannot count for the latest one

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
    by_rule: dict[str, int] = field(default_factory=dict)  # planned, per rule
    queued_by_type: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


# --------------------------------------------------------------------------- reading

_ACCOUNTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "status": pl.String(),
}
_STATEMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "cycle_date": pl.Date(),
    "due_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "amount_paid_minor": pl.Int64(),
    "days_past_due": pl.Int32(),
}
_TREATMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "risk_segment": pl.String(),
}


@dataclass
class _Chunk:
    accounts: pl.DataFrame
    statements: pl.DataFrame
    payments: pl.DataFrame
    treatments: pl.DataFrame
    opt_ins: pl.DataFrame
    seen: int


def _payments(conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo) -> pl.DataFrame:
    """Payments of the accounts ``lo``..``hi`` in the last two cycles, dated in ``zone``."""
    since = dt.datetime.combine(as_of - dt.timedelta(days=PAYMENT_LOOKBACK_DAYS), dt.time(), zone)
    rows = conn.execute(
        text(
            "SELECT account_id, posted_at, amount_minor FROM transactions"
            " WHERE kind = 'payment' AND account_id BETWEEN :lo AND :hi AND posted_at >= :since"
        ),
        {"lo": lo, "hi": hi, "since": since.astimezone(dt.UTC)},
    ).all()
    ids, days, amounts = [], [], []
    for account_id, posted, amount in rows:
        stamp = posted if isinstance(posted, dt.datetime) else dt.datetime.fromisoformat(posted)
        if stamp.tzinfo is None:  # SQLite keeps the UTC wall time
            stamp = stamp.replace(tzinfo=dt.UTC)
        ids.append(account_id)
        days.append(stamp.astimezone(zone).date())
        amounts.append(abs(int(amount)))
    return pl.DataFrame(
        {"account_id": ids, "paid_on": days, "amount_minor": amounts},
        schema={"account_id": pl.String(), "paid_on": pl.Date(), "amount_minor": pl.Int64()},
    )


def _read_chunks(db: Engine, as_of: dt.date, chunk_rows: int, zone: ZoneInfo) -> Iterator[_Chunk]:
    after = ""
    statuses = ", ".join(f"'{s}'" for s in REMINDED_STATUSES)
    while True:
        with db.connect() as conn:
            accounts = query_frame(
                conn,
                "SELECT account_id, customer_id, currency, status FROM accounts"
                " WHERE account_id > :after ORDER BY account_id LIMIT :n",
                {"after": after, "n": chunk_rows},
                _ACCOUNTS,
            )
            if accounts.height == 0:
                return
            lo, hi = accounts["account_id"][0], accounts["account_id"][-1]
            bounds = {"lo": lo, "hi": hi, "as_of": as_of}
            statements = query_frame(
                conn,
                "SELECT s.account_id, s.cycle_date, s.due_date, s.statement_balance_minor,"
                " s.minimum_due_minor, s.amount_paid_minor, s.days_past_due"
                " FROM statements s JOIN accounts a ON a.account_id = s.account_id"
                f" WHERE s.account_id BETWEEN :lo AND :hi AND a.status IN ({statuses})"
                " AND s.cycle_date <= :as_of",
                bounds,
                _STATEMENTS,
            )
            treatments = query_frame(
                conn,
                "SELECT account_id, as_of, risk_segment FROM overdue_treatments"
                " WHERE account_id BETWEEN :lo AND :hi AND as_of <= :as_of",
                bounds,
                _TREATMENTS,
            )
            opt_ins = query_frame(
                conn,
                "SELECT DISTINCT o.customer_id FROM contact_opt_ins o"
                " JOIN accounts a ON a.customer_id = o.customer_id"
                " WHERE a.account_id BETWEEN :lo AND :hi AND o.topic = :topic"
                " AND o.opted_in = :yes",
                {"lo": lo, "hi": hi, "topic": EDUCATION_TOPIC, "yes": True},
                {"customer_id": pl.String()},
            )
            payments = _payments(conn, lo, hi, as_of, zone)
        after = hi
        yield _Chunk(
            accounts=accounts.filter(pl.col("status").is_in(REMINDED_STATUSES)),
            statements=statements,
            payments=payments,
            treatments=treatments,
            opt_ins=opt_ins,
            seen=accounts.height,
        )


# --------------------------------------------------------------------------- notices


@lru_cache(maxsize=64)
def currency_name_zh(code: str) -> str:
    """``CNY`` → 人民币, ``TWD`` → 新台币 (Babel; cached: parsing a locale is slow)."""
    return str(get_currency_name(code, locale="zh_CN"))


def _pct(rate: Decimal) -> str:
    """A rate as a percentage, exact and without trailing zeros (0.0005 → ``0.05``)."""
    return f"{(rate * 100).normalize():f}"


def yuan(amount_minor: int) -> str:
    """Integer minor units → a decimal string in major units (``123456`` → ``1234.56``)."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(int(amount_minor)), 100)
    return f"{sign}{whole}.{cents:02d}"


def policy_terms(policy: OverduePolicy) -> dict[str | None, dict[str, Any]]:
    """The policy's figures the templates quote, per risk segment (``None``: an untreated
    account, quoted with the ``fee_basis_segment``'s late fee and penalty rate). Computed once
    per run, not per message."""
    reminders = reminders_of(policy)
    charges = policy.file.charges
    cap = charges.fee_cap_share_of_principal
    common = {
        "interest_on_fees": charges.interest_on_fees,
        "compound_penalty": charges.compound_penalty,
        "fee_cap_pct": None if cap is None else _pct(cap / 100),
        "revolving_rate_pct": _pct(reminders.revolving.daily_rate),
        "cycle_days": reminders.revolving.cycle_days,
        "share_pct": _pct(reminders.minimum_payment.share_of_principal / 100),
        "floor": yuan(reminders.minimum_payment.floor_yuan),
        "includes_interest": reminders.minimum_payment.includes_interest_and_fees,
        "max_years": reminders.revolving.max_months // 12,
    }

    def of(segment: Segment) -> dict[str, Any]:
        fee = segment.treatment.late_fee
        rate = min(segment.treatment.penalty_rate_daily, charges.penalty_rate_cap_daily)
        return {
            **common,
            "penalty_rate_pct": _pct(rate),
            "late_fee_pct": _pct(fee.rate),
            "late_fee_min": yuan(fee.min_yuan) if fee.min_yuan else None,
            "late_fee_max": yuan(fee.max_yuan) if fee.max_yuan else None,
        }

    terms: dict[str | None, dict[str, Any]] = {s.code: of(s) for s in policy.file.segments}
    terms[None] = terms[reminders.fee_basis_segment]
    return terms


def notice_context(
    row: dict[str, Any],
    policy: OverduePolicy,
    terms: dict[str | None, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the templates of a planned message see (besides the composer's own keys): amounts
    as decimal strings in major units, rates as percentages, the day counts. The late fee and
    penalty rate are the account's segment's (the ``fee_basis_segment``'s when untreated)."""
    terms = terms or policy_terms(policy)
    as_of: dt.date = row["as_of"]
    due: dt.date | None = row["due_date"]
    return {
        **(terms.get(row["risk_segment"]) or terms[None]),
        "rule": row["rule"],
        "currency": row["currency"],
        "currency_zh": currency_name_zh(row["currency"]),
        "statement_balance": yuan(max(row["statement_balance_minor"], 0)),
        "minimum_due": yuan(row["minimum_due_minor"]),
        "unpaid_minimum": yuan(row["unpaid_minimum_minor"]),
        "days_past_due": int(row["days_past_due"]),
        "days_to_due": None if due is None else (due - as_of).days,
        "bucket": row["bucket"],
        "risk_segment": row["risk_segment"],
    }


def _education_context(figures: dict[str, Any]) -> dict[str, Any]:
    months = figures["months"]
    return {
        "repaid": months is not None,
        "months": months,
        "years": None if months is None else months // 12,
        "rest_months": None if months is None else months % 12,
        "first_minimum": yuan(figures["first_minimum_minor"]),
        "total_interest": yuan(figures["total_interest_minor"]),
        "total_paid": yuan(figures["total_paid_minor"]),
    }


def build_notices(plan: pl.DataFrame, policy: OverduePolicy) -> list[LimitChangeNotice]:
    """The notices of planned messages (``plan_reminders`` rows). ``effective_date`` is the
    statement's due date (templates show it as the due date), the reference is the plan's
    ``decision_ref`` and the recorded policy version the overdue policy's."""
    figures = education_figures(plan, policy)
    terms = policy_terms(policy)
    notices = []
    for row in plan.iter_rows(named=True):
        extra = notice_context(row, policy, terms)
        if row["decision_ref"] in figures:
            extra.update(_education_context(figures[row["decision_ref"]]))
        notices.append(
            LimitChangeNotice(
                decision_id=row["decision_ref"],
                account_id=row["account_id"],
                customer_id=row["customer_id"],
                old_limit_minor=0,
                new_limit_minor=0,
                currency=row["currency"],
                effective_date=row["due_date"] or row["as_of"],
                reasons=(),
                policy_version=row["policy_version"],
                message_type=row["message_type"],
                extra=extra,
            )
        )
    return notices


def _channels(
    row_channels: list[str] | None, prefs: ContactPrefs, composer: Composer, message_type: str
) -> tuple[str, ...]:
    """The rule's channels (else the message type's), in the customer's order of preference."""
    mt = composer.policy.message_types.get(message_type)
    allowed = tuple(row_channels) if row_channels else (mt.channels if mt else ())
    if prefs.channels:
        chosen = tuple(c for c in prefs.channels if c in allowed)
        if chosen:
            return chosen
    return allowed


def _existing_keys(conn: Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(
            conn.execute(
                select(OutboxMessage.message_key).where(
                    OutboxMessage.message_key.in_(keys[start : start + 500])
                )
            ).scalars()
        )
    return found


def _queue(
    db: Engine,
    plan: pl.DataFrame,
    policy: OverduePolicy,
    composer: Composer,
    now: dt.datetime,
) -> tuple[int, int, int, Counter[str]]:
    """Queue the plan's notices in one transaction: (inserted, already there, planned messages
    that got no row, inserted per message type)."""
    notices = build_notices(plan, policy)
    channels_of = dict(zip(plan["decision_ref"], plan["channels"].to_list(), strict=True))
    inserted, existing, empty = 0, 0, 0
    by_type: Counter[str] = Counter()
    with db.begin() as conn:
        session = Session(bind=conn)
        try:
            prefs = load_prefs(session, {n.customer_id for n in notices})
            groups: dict[tuple[str, ...], list[LimitChangeNotice]] = {}
            for n in notices:
                p = prefs.get(n.customer_id, ContactPrefs())
                chosen = _channels(channels_of[n.decision_id], p, composer, n.message_type)
                groups.setdefault(chosen, []).append(n)
            for chosen, group in groups.items():
                candidates = [
                    message_key(n.decision_id, n.message_type, c) for n in group for c in chosen
                ]
                before = _existing_keys(conn, candidates)
                keys = enqueue_notices(
                    session, group, prefs=prefs, channels=chosen, composer=composer, now=now
                )
                offered = set(keys)
                for n in group:
                    mine = [message_key(n.decision_id, n.message_type, c) for c in chosen]
                    if not offered.intersection(mine):
                        empty += 1  # opted out, not opted in, or no address on any channel
                        continue
                    new = [k for k in mine if k in offered and k not in before]
                    inserted += len(new)
                    existing += sum(1 for k in mine if k in offered and k in before)
                    by_type[n.message_type] += len(new)
            session.flush()
        finally:
            session.close()
    return inserted, existing, empty, by_type


# --------------------------------------------------------------------------- the run


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

    zone = ZoneInfo(timezone or get_settings().timezone or DEFAULT_ZONE)
    started = time.perf_counter()
    policy = policy or load_overdue_policy()
    reminders_of(policy)  # fail early without a reminders section
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    result = RemindResult(as_of=as_of, policy_version=policy.version)
    db = open_store(database_url)
    try:
        other = other_currencies(db, policy.file.currency)
        if other:
            raise RemindError(
                f"the store holds accounts in {', '.join(other)} but the overdue policy's "
                f"amounts are in {policy.file.currency}; the engine does not convert. Use a "
                "policy in the accounts' currency (UCI: --policy src/cardpilot/policies/uci-twd)"
            )
        with db.connect() as conn:
            total = int(conn.execute(text("SELECT COUNT(*) FROM accounts")).scalar_one())
        composer = default_composer()
        by_rule: Counter[str] = Counter()
        by_type: Counter[str] = Counter()
        if progress:
            progress(0, total)
        for chunk in _read_chunks(db, as_of, chunk_rows, zone):
            result.accounts += chunk.seen
            if chunk.accounts.height and chunk.statements.height:
                table = reminder_input(
                    chunk.statements,
                    chunk.accounts,
                    as_of,
                    policy,
                    payments=chunk.payments,
                    treatments=chunk.treatments,
                    opt_ins=chunk.opt_ins,
                )
                due = due_messages(table, as_of, policy)
                plan = apply_daily_cap(due, policy)
                result.due += due.height
                result.planned += plan.height
                by_rule.update(plan["rule"].to_list())
                if plan.height:
                    inserted, existing, empty, types = _queue(db, plan, policy, composer, now)
                    result.queued += inserted
                    result.already_queued += existing
                    result.not_sent += empty
                    by_type.update(types)
            if progress:
                progress(result.accounts, total)
        result.suppressed = result.due - result.planned
        result.by_rule = dict(sorted(by_rule.items()))
        result.queued_by_type = dict(sorted(by_type.items()))
    finally:
        db.dispose()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


# --------------------------------------------------------------------------- opt-ins


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
    rows = [
        {
            "customer_id": c,
            "topic": EDUCATION_TOPIC,
            "opted_in": opted_in,
            "changed_at": at,
            "source": source,
        }
        for c in dict.fromkeys(customer_ids)
    ]
    if not rows:
        return 0
    db = open_store(database_url)
    try:
        with db.begin() as conn:
            known = set(
                conn.execute(
                    text("SELECT customer_id FROM customers WHERE customer_id IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": [r["customer_id"] for r in rows]},
                ).scalars()
            )
            unknown = [str(r["customer_id"]) for r in rows if r["customer_id"] not in known]
            if unknown:
                raise RemindError(f"unknown customers: {', '.join(unknown[:5])}")
            ins: Any = (
                postgresql.insert(ContactOptIn)
                if conn.dialect.name == "postgresql"
                else sqlite.insert(ContactOptIn)
            )
            stmt = ins.on_conflict_do_update(
                index_elements=["customer_id", "topic"],
                set_={
                    "opted_in": ins.excluded.opted_in,
                    "changed_at": ins.excluded.changed_at,
                    "source": ins.excluded.source,
                },
            )
            conn.execute(stmt, rows)
    finally:
        db.dispose()
    return len(rows)
