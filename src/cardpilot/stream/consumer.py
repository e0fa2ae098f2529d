"""The event consumer: pull a batch, decide it, write it in one transaction, then acknowledge.

Per batch: the messages are parsed and decided (``events.intake``) against what the store
knows, the postings, receipts and features are written and the triggers evaluated in one
transaction (``store.events``), then the dead letters are published (each once: its message id
is the event's) and the batch is acknowledged. A crash anywhere before the acknowledgement
leaves the batch to be delivered again; its applied events are then duplicates by event id, so
nothing is written twice.

The store side (``stream.batch_intake``) decides the next batch while one is written, and the
next batch is asked for meanwhile, so it is in hand when the store is ready for it; batches are
still written, committed and acknowledged one after the other, in stream order (a batch that
fails leaves every later one unwritten and unacknowledged). ``stop`` (SIGTERM in the CLI) ends
the loop between batches: the batches in hand, and what was asked ahead, are finished and
acknowledged first.

The store side runs on threads of this process, or (``ConsumeOptions.intake_process``) in a
child process of its own (``stream.intake_process``): the event loop's work on the broker's
messages and the store's work then run on separate cores instead of taking turns at one
interpreter lock. Either way the loop only hands it a batch's payloads (``submit``) and gets
back what it needs to acknowledge: a ``BatchDone``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Engine

from cardpilot.domain import progress
from cardpilot.events.intake import APPLIED, DEAD, DUPLICATE
from cardpilot.events.policy import EventsPolicy
from cardpilot.events.validation import Rejection
from cardpilot.stream.batch_intake import BatchDone, Intake
from cardpilot.stream.broker import (
    INTAKE_BATCHES,
    Broker,
    BrokerError,
    connect,
    consumer_config,
    ensure_streams,
)
from cardpilot.stream.online_scores import OnlineScorer
from cardpilot.stream.pull import PullBatches
from cardpilot.warning.policy import WarningPolicy

# Tokens of a JetStream acknowledgement subject without a domain.
V1_TOKENS = 9


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
    # Batches in the intake at once: one written while the next is planned.
    in_flight: int = INTAKE_BATCHES
    # The store side in a child process of its own (``stream.intake_process``), on a second
    # core; False: on threads of this one (what an in-memory SQLite store needs).
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
    # Wall time of the loop waiting on the broker for a batch, and of batches being in the
    # intake (decided or written, off the loop; counted once while two overlap): what a
    # benchmark reads to tell a starved consumer from a busy one.
    waiting_s: float = 0.0
    processing_s: float = 0.0
    loop_cpu_s: float = 0.0  # CPU time of the event loop's thread: the broker's side
    # Wall time of the intake's two stages, over all batches (``BatchDone``).
    planning_s: float = 0.0
    writing_s: float = 0.0
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
        self.planning_s += done.planning_s
        self.writing_s += done.writing_s
        for _, why in done.dead_letters:
            self.dead_reasons[why.kind] = self.dead_reasons.get(why.kind, 0) + 1

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        timings = ("waiting_s", "processing_s", "loop_cpu_s", "planning_s", "writing_s")
        for timing in (*timings, "intake_cpu_s"):
            del out[timing]
        return out


class BatchIntake(Protocol):
    """The store side as the consumer's loop sees it: batches handed over, decided and
    committed one after the other in the order given."""

    def submit(self, raws: list[bytes]) -> Future[BatchDone]:
        """The batch of payloads ``raws`` decided, written and committed. Results come in
        submission order; a batch that fails fails every one submitted after it too."""
        ...

    def close(self) -> None:
        """Finish what was submitted and release the intake's threads or process."""
        ...

    @property
    def cpu_s(self) -> float:
        """CPU seconds spent in a process of the intake's own (0.0: it runs in this one)."""
        ...


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
    config = consumer_config(broker, options.most, options.ack_wait_s, options.in_flight)
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


class Acknowledger:
    """The batches handed to the intake, finished in order as their futures complete: dead
    letters published, the batch acknowledged, counted and told to the listener.

    It runs beside the loop that takes batches, so a batch is acknowledged as soon as it is
    committed, whatever the loop is waiting on; at most ``room`` batches are in the intake.
    The first batch that fails ends it with the failure, leaving that batch and every later
    one unacknowledged (the intake does not write them either). Abandoned (the loop itself
    failed), it acknowledges nothing more: a batch committed meanwhile comes back, its events
    duplicates.
    """

    def __init__(
        self,
        js: JetStreamContext,
        broker: Broker,
        options: ConsumeOptions,
        counts: ConsumeCounts,
        on_batch: Callable[[BatchDone], None] | None,
        room: int,
    ) -> None:
        self.js, self.broker, self.options, self.counts = js, broker, options, counts
        self.on_batch = on_batch
        self.queue: asyncio.Queue[tuple[list[Msg], asyncio.Future[BatchDone]] | None]
        self.queue = asyncio.Queue()
        self.slots = asyncio.Semaphore(room)
        self.unfinished = 0  # batches handed over whose future has not completed
        self.idle = asyncio.Event()  # set while none is
        self.idle.set()
        self.busy_since = 0.0
        self.finished_at = time.monotonic()  # when the last batch was acknowledged
        self.task = asyncio.create_task(self._run())

    def give_back(self) -> None:
        """The room taken for a batch that did not come."""
        self.slots.release()

    async def room(self) -> None:
        """Wait until another batch may be handed over, and take its room (raises what ended
        the batches)."""
        slot = asyncio.ensure_future(self.slots.acquire())
        await asyncio.wait({slot, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            slot.cancel()
            self.task.result()
            raise RuntimeError("the acknowledgements ended before the batches")

    def add(self, msgs: list[Msg], done: asyncio.Future[BatchDone]) -> None:
        if not self.unfinished:
            self.busy_since = time.perf_counter()
            self.idle.clear()
        self.unfinished += 1
        self.queue.put_nowait((msgs, done))

    @property
    def busy(self) -> bool:
        return self.unfinished > 0

    def check(self) -> None:
        """Raise what ended the batches, if they have ended."""
        if self.task.done():
            self.task.result()

    async def finish(self) -> None:
        """Wait for every batch handed over to be acknowledged."""
        self.queue.put_nowait(None)
        await self.task

    async def abandon(self) -> None:
        """Stop acknowledging: what is not acknowledged is delivered again."""
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None:
                # Its outcome is of no more use (a failure is the one already raised).
                item[1].add_done_callback(_outcome_dropped)

    async def _run(self) -> None:
        while (item := await self.queue.get()) is not None:
            msgs, future = item
            done = await future
            self.unfinished -= 1
            if not self.unfinished:
                self.counts.processing_s += time.perf_counter() - self.busy_since
                self.idle.set()
            # Out of the intake: the next batch may go in while this one is acknowledged.
            self.slots.release()
            await publish_dead_letters(self.js, self.broker, msgs, done)
            await msgs[-1].ack_sync()  # AckPolicy.ALL: the whole batch
            self.finished_at = time.monotonic()
            self.counts.add(done)
            progress.advance(len(msgs))
            if self.on_batch is not None:
                stored = tuple(stored_s(m.reply) for m in msgs) if self.options.stored_times else ()
                self.on_batch(replace(done, stored_at=stored))


async def _filled_while_busy(
    sub: PullBatches, acks: Acknowledger, options: ConsumeOptions, have: int
) -> list[Msg]:
    """More for a short batch while the intake is still busy with the last: until the batch
    is full, the intake is done or ``options.fetch_timeout_s``, then what is in hand (up to the
    largest batch). A trickle then goes in batches of what came while the last was decided and
    written, and lingered for after, as when one batch was in the intake at a time: a batch
    costs about as much for a few events as for hundreds."""
    most = options.most - have
    filling = asyncio.ensure_future(sub.more(options.batch - have, most, options.fetch_timeout_s))
    free = asyncio.ensure_future(acks.idle.wait())
    try:
        await asyncio.wait({filling, free, acks.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        free.cancel()
    if not filling.done():
        filling.cancel()
        await asyncio.wait({filling})  # what it had taken, if it finished meanwhile, is kept
    taken = [] if filling.cancelled() else filling.result()
    return taken + sub.in_hand(most - len(taken))


def open_intake(
    engine: Engine,
    policy: EventsPolicy,
    tz: dt.tzinfo,
    options: ConsumeOptions,
    warning: WarningPolicy | None = None,
    scorer: OnlineScorer | None = None,
) -> BatchIntake:
    """The store side ``options`` ask for: in a child process on ``engine``'s database, or on
    threads of this process with ``engine`` itself."""
    if not options.intake_process:
        return Intake(engine, policy, tz, warning, scorer)
    from cardpilot.stream.intake_process import IntakeProcess

    return IntakeProcess(engine.url, policy, tz, warning, scorer)


async def _topped_up(
    sub: PullBatches, acks: Acknowledger, options: ConsumeOptions, have: int
) -> list[Msg]:
    """More for a short batch of ``have``: what comes while the intake is still busy, then
    what comes within the linger."""
    more = await _filled_while_busy(sub, acks, options, have) if acks.busy else []
    have += len(more)
    if have < options.batch and options.linger_s > 0:
        more += await sub.more(options.batch - have, options.most - have, options.linger_s)
    return more


def _outcome_dropped(future: asyncio.Future[BatchDone]) -> None:
    if not future.cancelled():
        future.exception()


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
    with batch_heap():
        nc, js = await connect(broker)
        acks: Acknowledger | None = None
        ended = False
        try:
            await ensure_streams(js, broker)
            sub = await _subscribe(nc, js, broker, options)
            acks = Acknowledger(js, broker, options, counts, on_batch, options.in_flight)
            progress.stage("events consumed", None)
            idle_since = time.monotonic()
            most = options.most
            stopping = False
            delivered: int | None = None
            taken = 0
            while True:
                stopping = stopping or stop.is_set()
                # Room first: the batch then takes everything in hand when the intake can
                # start on it, not what had come when the last one went in.
                await acks.room()
                asked = time.perf_counter()
                if stopping:
                    # What was asked ahead is finished too: nothing taken is left unacknowledged.
                    msgs = await sub.held(most, options.fetch_timeout_s)
                else:
                    msgs = await sub.fetch(most, timeout=options.fetch_timeout_s)
                counts.waiting_s += time.perf_counter() - asked
                if msgs and len(msgs) < options.batch and not stopping:
                    msgs += await _topped_up(sub, acks, options, len(msgs))
                acks.check()
                if not msgs:
                    acks.give_back()
                    if stopping:
                        break
                    # Idle is nothing to fetch and nothing in the intake: the broker holds back
                    # what is past ``max_ack_pending`` until the batches in hand are done.
                    idle_since = max(idle_since, acks.finished_at)
                    if acks.busy:
                        idle_since = time.monotonic()
                    idle = time.monotonic() - idle_since
                    if options.idle_exit_s is not None and idle >= options.idle_exit_s:
                        break
                    continue
                if not (stopping or stop.is_set()):
                    # The next batch comes in while this one is decided (the store's work is off
                    # the loop); it is acknowledged only with its own batch, after this one's.
                    await sub.ask_ahead(most, options.fetch_timeout_s)
                delivered = check_deliveries(msgs, delivered)
                done = intake.submit([m.data for m in msgs])
                acks.add(msgs, asyncio.wrap_future(done))
                idle_since = time.monotonic()
                taken += len(msgs)
                if options.max_messages is not None and taken >= options.max_messages:
                    stopping = True
            await acks.finish()
            ended = True
        finally:
            if acks is not None and not ended:
                await acks.abandon()
            await asyncio.to_thread(intake.close)
            counts.intake_cpu_s = intake.cpu_s
            counts.seconds = round(time.perf_counter() - started, 3)
            counts.loop_cpu_s = time.thread_time() - loop_cpu
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
