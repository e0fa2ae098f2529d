"""The event consumer: pull a batch, decide it, write it in one transaction, then acknowledge.

Per batch: the messages are parsed and decided (``events.intake``) against what the store
knows, the postings, receipts and features are written and the triggers evaluated in one
transaction (``store.events``), then the dead letters are published (each once: its message id
is the event's) and the batch is acknowledged. A crash anywhere before the acknowledgement
leaves the batch to be delivered again; its applied events are then duplicates by event id, so
nothing is written twice. The next batch is asked for while one is decided, so it is in hand
when the store is done; batches are still decided and acknowledged one after the other, in
stream order. ``stop`` (SIGTERM in the CLI) ends the loop between batches: the batch in hand,
and what was asked ahead, are finished and acknowledged first.

The store side (``Intake``) runs on a thread of this process, or (``ConsumeOptions.
intake_process``) in a child process of its own (``stream.intake_process``): the event loop's
work on the broker's messages and the store's work then run on two cores instead of taking
turns at one interpreter lock. Either way the loop only hands it a batch's payloads
(``submit``) and gets back what it needs to acknowledge: a ``BatchDone``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

import polars as pl
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Engine

from cardpilot.domain import progress
from cardpilot.events.feature_frames import STATE_SCHEMA
from cardpilot.events.intake import (
    APPLIED,
    DEAD,
    DUPLICATE,
    batch_keys,
    parse_batch,
    plan_batch,
)
from cardpilot.events.policy import EventsPolicy
from cardpilot.events.validation import Rejection
from cardpilot.store.events import read_lookups, write_batch
from cardpilot.stream.broker import (
    Broker,
    BrokerError,
    connect,
    consumer_config,
    ensure_streams,
)
from cardpilot.stream.online_scores import OnlineScorer
from cardpilot.stream.pull import PullBatches
from cardpilot.stream.triggers import advice_terms, evaluate_triggers
from cardpilot.warning.policy import WarningPolicy

# Tokens of a JetStream acknowledgement subject without a domain.
V1_TOKENS = 9
# Accounts whose committed features the consumer keeps between batches, at most.
HELD_ACCOUNTS = 200_000


@dataclass(frozen=True, slots=True)
class ConsumeOptions:
    batch: int = 1000
    # With a backlog waiting, a batch takes up to this many (None: ``batch``): a batch's fixed
    # costs then spread over more events, while a trickle still goes in short batches.
    max_batch: int | None = None
    ack_wait_s: float = 30.0
    fetch_timeout_s: float = 1.0
    idle_exit_s: float | None = None  # stop after this long with nothing to fetch (replays)
    max_messages: int | None = None
    stored_times: bool = False  # tell the listener when the stream stored each message
    # A batch that came short waits this long for more before it is decided: a batch costs
    # about as much for a few events as for hundreds (its look-ups, fold, writes and rules),
    # so a trickle decided as it comes would cost many times the CPU an event.
    linger_s: float = 0.05
    # The store side in a child process of its own (``stream.intake_process``), on a second
    # core; False: on a thread of this one (what an in-memory SQLite store needs).
    intake_process: bool = False

    @property
    def most(self) -> int:
        return max(self.batch, self.max_batch or 0)


@dataclass(slots=True)
class ConsumeCounts:
    messages: int = 0
    applied: int = 0
    duplicates: int = 0
    dead: int = 0
    batches: int = 0
    postings: int = 0
    triggers_fired: int = 0
    seconds: float = 0.0
    dead_reasons: dict[str, int] = field(default_factory=dict)
    # Wall time of the loop waiting on the broker for a batch, and a batch being decided and
    # written (off the loop): what a benchmark reads to tell a starved consumer from a busy one.
    waiting_s: float = 0.0
    processing_s: float = 0.0
    loop_cpu_s: float = 0.0  # CPU time of the event loop's thread: the broker's side
    # CPU time of the intake's own process (0: the intake ran in this one, counted with it).
    intake_cpu_s: float = 0.0

    def add(self, done: BatchDone) -> None:
        counts = done.counts()
        self.messages += len(done.outcomes)
        self.applied += counts[APPLIED]
        self.duplicates += counts[DUPLICATE]
        self.dead += counts[DEAD]
        self.batches += 1
        self.postings += done.added
        self.triggers_fired += done.triggers_fired
        for _, why in done.dead_letters:
            self.dead_reasons[why.kind] = self.dead_reasons.get(why.kind, 0) + 1

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        del out["waiting_s"], out["processing_s"], out["loop_cpu_s"], out["intake_cpu_s"]
        return out


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

    def counts(self) -> dict[str, int]:
        return {k: self.outcomes.count(k) for k in (APPLIED, DUPLICATE, DEAD)}


class BatchIntake(Protocol):
    """The store side as the consumer's loop sees it: batches handed over, decided and
    committed one after the other in the order given."""

    def submit(self, raws: list[bytes]) -> Future[BatchDone]:
        """The batch of payloads ``raws`` decided, written and committed. Results come in
        submission order; a batch that fails fails every one submitted after it too."""
        ...

    def close(self) -> None:
        """Finish what was submitted and release the intake's thread or process."""
        ...

    @property
    def cpu_s(self) -> float:
        """CPU seconds spent in a process of the intake's own (0.0: it runs in this one)."""
        ...


class IntakeFailedError(RuntimeError):
    """A batch was not decided: an earlier one failed, and the intake takes none after it."""


class Intake:
    """The store side of one batch (runs off the event loop).

    It keeps the features it committed (``held``, at most ``HELD_ACCOUNTS``) so the next batch
    need not read and parse them again: the consumer is the features' only writer, and one
    consumer serves a stream (the per-account order needs it). A batch that fails drops them
    all (its fold had moved them on before the rollback).
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
        self._worker: ThreadPoolExecutor | None = None  # ``submit``'s one thread
        self._failed: BaseException | None = None
        if warning is not None:
            # The advice terms read the policy catalogue (a second of YAML): once here, not
            # inside the first batch that fires a rule.
            advice_terms(warning)

    def process(self, raws: list[bytes]) -> BatchDone:
        parsed = parse_batch(raws)
        ids, accounts, keys = batch_keys(parsed)
        months = self.policy.spending_average_months
        try:
            with self.engine.begin() as conn:
                lookups = read_lookups(conn, ids, accounts, keys, self.held)
                plan = plan_batch(parsed, lookups, self.policy, self.tz)
                added = write_batch(conn, plan, months)
                fired = evaluate_triggers(
                    conn, plan.triggers, self.warning, dt.datetime.now(dt.UTC), self.scorer
                )
        except BaseException:
            self.held = self.held.clear()
            raise
        self.held = _carried(self.held, plan.states)
        committed = dt.datetime.now(dt.UTC)
        return BatchDone(plan.outcomes, plan.dead_letters, committed, added, fired.height)

    def submit(self, raws: list[bytes]) -> Future[BatchDone]:
        """``process`` on a thread of its own (one: the batches stay in order)."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="intake")
        return self._worker.submit(self._next, raws)

    def _next(self, raws: list[bytes]) -> BatchDone:
        if self._failed is not None:
            raise IntakeFailedError(f"an earlier batch failed: {self._failed!r}")
        try:
            return self.process(raws)
        except BaseException as exc:
            self._failed = exc
            raise

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()

    @property
    def cpu_s(self) -> float:
        return 0.0


def _carried(held: pl.DataFrame, changed: pl.DataFrame) -> pl.DataFrame:
    """``held`` with the states of ``changed`` in place of theirs (none kept past
    ``HELD_ACCOUNTS``: the store has them)."""
    if not changed.height:
        return held
    if held.height + changed.height > HELD_ACCOUNTS:
        return changed
    others = held.filter(~pl.col("account_id").is_in(changed.get_column("account_id").implode()))
    return pl.concat([others, changed])


class DeliveryGapError(BrokerError):
    """A delivery of the consumer never reached it: the batch is not acknowledged."""


def _ack_field(reply: str, field: int) -> int:
    """Field ``field`` (``Msg.Ack``'s numbering, with a domain) of a message's acknowledgement
    subject, read without building the rest of ``Msg.metadata``: a subject without a domain
    lacks its two tokens before the stream."""
    tokens = reply.split(".")
    return int(tokens[field - 2] if len(tokens) == V1_TOKENS else tokens[field])


def delivered_as(reply: str) -> int:
    """The consumer's delivery number of a message, from its acknowledgement subject: one more
    for every message (or redelivery) the server sends this consumer."""
    return _ack_field(reply, Msg.Ack.ConsumerSeq)


def check_deliveries(msgs: list[Msg], last: int | None) -> int | None:
    """The last delivery number of ``msgs``, having checked none is missing since ``last``
    (None: the first batch this process takes).

    One acknowledgement covers every message up to it (``AckPolicy.ALL``), so a delivery lost
    between the server and this process (a client dropping messages it has no room for) would
    be acknowledged unseen. A gap stops the consumer before the batch is acknowledged; the next
    one is sent everything from the last acknowledgement on again."""
    for msg in msgs:
        number = delivered_as(msg.reply)
        if last is not None and number != last + 1:
            raise DeliveryGapError(
                f"delivery {last + 1} of the consumer never arrived (the next was {number});"
                f" nothing after delivery {last} is acknowledged: restart the consumer and the"
                " broker sends it again"
            )
        last = number
    return last


def stored_s(reply: str) -> float:
    """When the stream stored a message, from its acknowledgement subject (what
    ``Msg.metadata`` reads, without building the rest of it)."""
    return _ack_field(reply, Msg.Ack.Timestamp) / 1e9


def dead_letter(msg: Msg, why: Rejection) -> tuple[bytes, dict[str, str]]:
    """The dead-letter message of ``msg``: why, and the event as it arrived."""
    sequence = msg.metadata.sequence.stream
    body = {
        **why.as_dict(),
        "stream_sequence": sequence,
        "payload": msg.data.decode("utf-8", errors="replace"),
    }
    key = f"dead:{why.event_id}" if why.event_id else f"dead:seq:{sequence}"
    return json.dumps(body, ensure_ascii=False).encode(), {"Nats-Msg-Id": key}


async def publish_dead_letters(
    js: JetStreamContext, broker: Broker, msgs: list[Msg], done: BatchDone
) -> None:
    if not done.dead_letters:
        return
    futures = []
    for position, why in done.dead_letters:
        payload, headers = dead_letter(msgs[position], why)
        futures.append(await js.publish_async(broker.dead_subject, payload, headers=headers))
    await asyncio.gather(*futures)


async def _subscribe(
    nc: Client, js: JetStreamContext, broker: Broker, options: ConsumeOptions
) -> PullBatches:
    config = consumer_config(broker, options.most, options.ack_wait_s)
    # Created, or updated to this batch size and ack wait (a durable keeps its position).
    await js.add_consumer(broker.stream, config=config)
    sub = PullBatches(nc, broker.stream, broker.durable)
    await sub.start()
    info = await js.consumer_info(broker.stream, broker.durable)
    if info.num_ack_pending:
        # A batch a crashed consumer held: it comes back once its ack wait is over, and must
        # be taken before anything newer (the order rule depends on it).
        await asyncio.sleep((info.config.ack_wait or options.ack_wait_s) + 0.1)
    return sub


# Young-generation collections run after this many net allocations (the default is 700).
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def batch_heap() -> Iterator[None]:
    """The garbage collector tuned for deciding batches, put back on leaving.

    A batch allocates hundreds of thousands of short-lived objects (parsed events, rows,
    tuples) and frees nearly all of them by reference counting: at the default threshold the
    collector runs thousands of times a batch, and its full passes walk every object the process
    loaded at start (modules, policies, models) again and again. What exists on entering is
    frozen (never traversed again) and the young generation is collected far less often.
    """
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def open_intake(
    engine: Engine,
    policy: EventsPolicy,
    tz: dt.tzinfo,
    options: ConsumeOptions,
    warning: WarningPolicy | None = None,
    scorer: OnlineScorer | None = None,
) -> BatchIntake:
    """The store side ``options`` ask for: in a child process on ``engine``'s database, or on a
    thread of this process with ``engine`` itself."""
    if not options.intake_process:
        return Intake(engine, policy, tz, warning, scorer)
    from cardpilot.stream.intake_process import IntakeProcess

    return IntakeProcess(engine.url, policy, tz, warning, scorer)


async def consume(
    engine: Engine,
    broker: Broker,
    policy: EventsPolicy,
    tz: dt.tzinfo,
    options: ConsumeOptions,
    stop: asyncio.Event,
    on_batch: Callable[[BatchDone], None] | None = None,
    warning: WarningPolicy | None = None,
    scorer: OnlineScorer | None = None,
) -> ConsumeCounts:
    """Consume until ``stop`` is set (or idle for ``options.idle_exit_s``); returns the counts."""
    counts = ConsumeCounts()
    started, loop_cpu = time.perf_counter(), time.thread_time()
    intake = open_intake(engine, policy, tz, options, warning, scorer)
    with contextlib.closing(intake), batch_heap():
        nc, js = await connect(broker)
        try:
            await ensure_streams(js, broker)
            sub = await _subscribe(nc, js, broker, options)
            progress.stage("events consumed", None)
            idle_since = time.monotonic()
            most = options.most
            stopping = False
            delivered: int | None = None
            while True:
                stopping = stopping or stop.is_set()
                asked = time.perf_counter()
                if stopping:
                    # What was asked ahead is finished too: nothing taken is left unacknowledged.
                    msgs = await sub.held(most, options.fetch_timeout_s)
                    if not msgs:
                        break
                else:
                    msgs = await sub.fetch(most, timeout=options.fetch_timeout_s)
                    if msgs and len(msgs) < options.batch and options.linger_s > 0:
                        enough, room = options.batch - len(msgs), most - len(msgs)
                        msgs += await sub.more(enough, room, options.linger_s)
                handed = time.perf_counter()
                counts.waiting_s += handed - asked
                if not msgs:
                    idle = time.monotonic() - idle_since
                    if options.idle_exit_s is not None and idle >= options.idle_exit_s:
                        break
                    continue
                if not (stopping or stop.is_set()):
                    # The next batch comes in while this one is decided (the store's work is off
                    # the loop); it is acknowledged only with its own batch, after this one's.
                    await sub.ask_ahead(most, options.fetch_timeout_s)
                delivered = check_deliveries(msgs, delivered)
                done = await asyncio.wrap_future(intake.submit([m.data for m in msgs]))
                counts.processing_s += time.perf_counter() - handed
                await publish_dead_letters(js, broker, msgs, done)
                await msgs[-1].ack_sync()  # AckPolicy.ALL: the whole batch
                idle_since = time.monotonic()
                counts.add(done)
                progress.advance(len(msgs))
                if on_batch is not None:
                    stored = tuple(stored_s(m.reply) for m in msgs) if options.stored_times else ()
                    on_batch(replace(done, stored_at=stored))
                if options.max_messages is not None and counts.messages >= options.max_messages:
                    stopping = True
        finally:
            counts.seconds = round(time.perf_counter() - started, 3)
            counts.loop_cpu_s = time.thread_time() - loop_cpu
            counts.intake_cpu_s = intake.cpu_s
            await nc.close()
    return counts


def run_consumer(
    engine: Engine,
    broker: Broker,
    policy: EventsPolicy,
    tz: dt.tzinfo,
    options: ConsumeOptions,
    on_batch: Callable[[BatchDone], None] | None = None,
    warning: WarningPolicy | None = None,
    scorer: OnlineScorer | None = None,
) -> ConsumeCounts:
    """``consume`` until SIGTERM or SIGINT (the batch in hand is finished and acknowledged)."""
    import signal

    async def main() -> ConsumeCounts:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await consume(engine, broker, policy, tz, options, stop, on_batch, warning, scorer)

    return asyncio.run(main())
