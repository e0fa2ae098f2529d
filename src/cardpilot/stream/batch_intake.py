"""The store side of the consumer: batches decided and written in two overlapping stages.

A batch is planned (parsed, looked up in the store, decided by ``events.intake.plan_batch``)
on one thread and written (postings, receipts, features, then the early-warning rules, in one
transaction) on another, so the next batch is planned while one is written: with PostgreSQL the
client decides while the server writes, instead of each idling in turn. Batches are written
and committed one after the other, in the order they were submitted; ``submit`` returns a
future per batch, and the futures complete in that order.

A batch is planned against what the store has and what the batches submitted before it will
have written: their receipts (an event id received), the sequences they took and the accounts'
states they leave. Those batches are taken from the planned-but-uncommitted list *before* the
store is read, so one that commits during the read is counted either way (its rows read, or
its plan laid over the read; both say the same). The accounts themselves do not change while
events are consumed.

A batch that fails (its plan or its write) fails every batch submitted before the failure was
known: they were planned on top of it. Nothing of theirs is written; the consumer stops
without acknowledging them and the broker delivers them again. The states held are dropped
(the fold had moved them on). Batches submitted after that start afresh.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine

from cardpilot.events.feature_frames import STATE_SCHEMA
from cardpilot.events.intake import (
    APPLIED,
    DEAD,
    DUPLICATE,
    BatchLookups,
    BatchPlan,
    Receipt,
    batch_keys,
    parse_batch,
    plan_batch,
)
from cardpilot.events.policy import EventsPolicy
from cardpilot.events.validation import Rejection
from cardpilot.store.events import read_lookups, write_batch
from cardpilot.stream.online_scores import OnlineScorer
from cardpilot.stream.triggers import advice_terms, evaluate_triggers
from cardpilot.warning.policy import WarningPolicy

# Accounts whose committed features the intake keeps between batches, at most.
HELD_ACCOUNTS = 200_000


@dataclass(frozen=True, slots=True)
class BatchDone:
    """What the consumer (the acknowledgement, the dead letters) and a listener (progress, the
    benchmark's latency) learn of a committed batch: small, as it may come from another
    process (not the batch's frames)."""

    outcomes: list[str]  # one per message, in batch order: applied | duplicate | dead
    dead_letters: list[tuple[int, Rejection]]  # (position in the batch, why)
    committed_at: dt.datetime
    added: int  # postings written
    triggers_fired: int  # interventions the early-warning rules gave for its events
    # When the stream stored each message, seconds since the epoch (worked out only for a
    # listener that asks, ``ConsumeOptions.stored_times``: the benchmark's latency).
    stored_at: tuple[float, ...] = ()
    # Wall time of its two stages (parsed, looked up and planned; written and committed): the
    # stage that takes longer is what holds the intake back.
    planning_s: float = 0.0
    writing_s: float = 0.0

    def counts(self) -> dict[str, int]:
        return {k: self.outcomes.count(k) for k in (APPLIED, DUPLICATE, DEAD)}


class BatchFailedBeforeError(RuntimeError):
    """A batch planned on top of one that failed: not written, to be delivered again."""


@dataclass(slots=True, eq=False)
class _Planned:
    number: int
    plan: BatchPlan | None = None
    error: BaseException | None = None
    planning_s: float = 0.0


class Intake:
    """Batches planned and written in order, the next planned while one is written.

    It keeps the features it committed (``held``, at most ``HELD_ACCOUNTS``) so the next batch
    need not read and parse them again: the consumer is the features' only writer, and one
    consumer serves a stream (the per-account order needs it). How many batches are submitted
    and not yet done is the caller's to bound (the consumer holds two).
    """

    def __init__(
        self,
        engine: Engine,
        policy: EventsPolicy,
        tz: dt.tzinfo,
        warning: WarningPolicy | None = None,
        scorer: OnlineScorer | None = None,
    ) -> None:
        self.engine, self.policy, self.tz, self.warning = engine, policy, tz, warning
        self.scorer = scorer  # the early-warning model's fresh scores (None: the stored ones)
        self.held = pl.DataFrame(schema=STATE_SCHEMA)
        # Planned and not yet committed, in order: what the next plans are laid over.
        self._unwritten: list[_Planned] = []
        self._lock = threading.Lock()
        self._submitted = 0
        self._failed_through = 0  # batches numbered up to this one fail (one before failed)
        self._failure: BaseException | None = None
        self._planner: ThreadPoolExecutor | None = None
        self._writer: ThreadPoolExecutor | None = None
        if warning is not None:
            # The advice terms read the policy catalogue (a second of YAML): once here, not
            # inside the first batch that fires a rule.
            advice_terms(warning)

    def submit(self, raws: Sequence[bytes]) -> Future[BatchDone]:
        """Plan and write ``raws`` after every batch submitted before; its future completes
        once it is committed (or fails), after theirs."""
        if self._planner is None or self._writer is None:
            self._planner = ThreadPoolExecutor(1, thread_name_prefix="intake-plan")
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="intake-write")
        with self._lock:
            self._submitted += 1
            number = self._submitted
        done: Future[BatchDone] = Future()
        self._planner.submit(self._plan, _Planned(number), list(raws), done)
        return done

    def process(self, raws: Sequence[bytes]) -> BatchDone:
        """``submit`` and wait for it."""
        return self.submit(raws).result()

    def close(self) -> None:
        """Finish what was submitted and end the stages' threads."""
        for stage in (self._planner, self._writer):
            if stage is not None:
                stage.shutdown(wait=True)
        self._planner = self._writer = None

    @property
    def cpu_s(self) -> float:
        """CPU seconds of a process of the intake's own: none, it runs in the caller's."""
        return 0.0

    def _doomed(self, number: int) -> bool:
        return number <= self._failed_through

    def _plan(self, batch: _Planned, raws: list[bytes], done: Future[BatchDone]) -> None:
        started = time.perf_counter()
        try:
            if not self._doomed(batch.number):
                batch.plan = self._planned(raws)
        except BaseException as exc:  # handed to the writer: the futures fail in order
            batch.error = exc
        batch.planning_s = time.perf_counter() - started
        with self._lock:
            if batch.plan is not None and not self._doomed(batch.number):
                self._unwritten.append(batch)
        assert self._writer is not None
        self._writer.submit(self._write, batch, done)

    def _planned(self, raws: list[bytes]) -> BatchPlan:
        parsed = parse_batch(raws)
        ids, accounts, keys = batch_keys(parsed)
        # Before the read: a batch committing during it is then in the store or in this list.
        with self._lock:
            ahead = [b.plan for b in self._unwritten if b.plan is not None]
            held = self.held
        if ahead:
            held = _known_states(held, ahead, accounts)
        with self.engine.connect() as conn:
            lookups = read_lookups(conn, ids, accounts, keys, held)
        if ahead:
            lookups = _laid_over(lookups, ahead, ids, keys)
        return plan_batch(parsed, lookups, self.policy, self.tz)

    def _write(self, batch: _Planned, done: Future[BatchDone]) -> None:
        started = time.perf_counter()
        try:
            if not done.set_running_or_notify_cancel():
                # Given up by the caller: as good as failed, for the plans laid over it.
                raise CancelledError
            if self._doomed(batch.number):
                raise BatchFailedBeforeError(
                    "a batch before this one failed; it is left to be delivered again"
                ) from self._failure
            if batch.error is not None:
                raise batch.error
            plan = batch.plan
            assert plan is not None
            months = self.policy.spending_average_months
            with self.engine.begin() as conn:
                added = write_batch(conn, plan, months)
                fired = evaluate_triggers(
                    conn, plan.triggers, self.warning, dt.datetime.now(dt.UTC), self.scorer
                )
        except BaseException as exc:
            self._fail(batch, exc)
            if not done.cancelled():
                done.set_exception(exc)
            return
        with self._lock:
            self._unwritten.remove(batch)
            self.held = _carried(self.held, plan.states)
        committed = dt.datetime.now(dt.UTC)
        took = time.perf_counter() - started
        done.set_result(
            BatchDone(
                plan.outcomes,
                plan.dead_letters,
                committed,
                added,
                fired.height,
                (),
                batch.planning_s,
                took,
            )
        )

    def _fail(self, batch: _Planned, exc: BaseException) -> None:
        with self._lock:
            if self._doomed(batch.number):
                return  # failed with the one before: those submitted since start afresh
            self._failure = exc
            self._failed_through = self._submitted
            self._unwritten.clear()
            self.held = self.held.clear()


def _carried(held: pl.DataFrame, changed: pl.DataFrame) -> pl.DataFrame:
    """``held`` with the states of ``changed`` in place of theirs (none kept past
    ``HELD_ACCOUNTS``: the store has them)."""
    if not changed.height:
        return held
    if held.height + changed.height > HELD_ACCOUNTS:
        return changed
    others = held.filter(~pl.col("account_id").is_in(changed.get_column("account_id").implode()))
    return pl.concat([others, changed])


def _known_states(held: pl.DataFrame, ahead: list[BatchPlan], accounts: set[str]) -> pl.DataFrame:
    """The states of ``accounts`` the intake knows: the latest uncommitted plan's that has
    one, else the held one."""
    wanted = pl.col("account_id").is_in(pl.Series(list(accounts), dtype=pl.String).implode())
    frames = [p.states.filter(wanted) for p in reversed(ahead)] + [held.filter(wanted)]
    return pl.concat(frames).unique("account_id", keep="first", maintain_order=True)


def _laid_over(
    lookups: BatchLookups,
    ahead: list[BatchPlan],
    ids: set[str],
    keys: set[tuple[str, int]],
) -> BatchLookups:
    """``lookups`` with what the uncommitted plans ``ahead`` write: their receipts of the
    batch's event ids, and the batch's (account, sequence) keys they take."""
    received: dict[str, Receipt] = dict(lookups.received)
    taken = dict(lookups.taken)
    for plan in ahead:
        for receipt in plan.receipts:
            if receipt.event_id in ids:
                received[receipt.event_id] = receipt
            key = (receipt.account_id, receipt.sequence)
            if receipt.outcome == APPLIED and key in keys:
                taken[key] = receipt.event_id
    return BatchLookups(received, taken, lookups.states, lookups.accounts)
