"""The dispatcher: claims due outbox messages with a lease, sends them, records the outcome.

Delivery is at-least-once with an idempotency key, which a receiver that dedupes turns into
exactly-once acceptance:

1. *Claim.* One statement moves up to ``batch_size`` due messages to ``sending`` with this
   dispatcher's id and a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so dispatchers in
   parallel never take the same row; SQLite: the statement holds the single write lock).
   A message whose lease ran out (its dispatcher died) is due again.
2. *Manners.* SMS and in-app messages inside the customer's quiet hours, and optional
   messages over the customer's frequency cap, go to ``waiting`` until they may go.
3. *Send.* Addresses are decrypted here, in memory, and never logged unmasked.
4. *Record.* Only after the channel accepted is a message marked ``sent``. A failure is retried
   with exponential backoff; after the policy's ``max_attempts`` (or a permanent error) it is
   ``dead`` with its last error.

3 and 4 overlap: each outcome (an SMPP ``submit_sm_resp``, an SMTP acceptance, an HTTP answer)
is recorded while the batch is still going, in small transactions, and no more than ``window``
messages are ever sent and not yet recorded (``cardpilot.notify.window``). A dispatcher killed
at any moment leaves at most ``window`` accepted messages in ``sending``; after the lease they
are sent again with the same key, and a receiver that dedupes by it drops the repeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select, update

from cardpilot.notify.channels import Channel, Outgoing, SendResult
from cardpilot.notify.policy import NotifyPolicy, default_policy
from cardpilot.notify.prefs import ContactPrefs, load_prefs
from cardpilot.notify.window import DEFAULT_WINDOW, AckWindow
from cardpilot.privacy import FieldCipher
from cardpilot.privacy.masking import redact_text
from cardpilot.store.models import Customer
from cardpilot.store.notify_models import OutboxMessage
from cardpilot.store.outbox_rows import record_outcomes

log = logging.getLogger(__name__)

T = OutboxMessage
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0
    batches: int = 0
    flushes: int = 0  # transactions that recorded outcomes while sending
    by_channel: Counter[str] = field(default_factory=Counter)

    def add(self, other: DispatchReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.held += other.held
        self.batches += other.batches
        self.flushes += other.flushes
        self.by_channel.update(other.by_channel)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retried": self.retried,
            "dead": self.dead,
            "held": self.held,
            "batches": self.batches,
            "outcome_writes": self.flushes,
            "sent_by_channel": dict(self.by_channel),
        }


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    message_key: str
    customer_id: str
    message_type: str
    category: str
    channel: str
    locale: str
    subject: str | None
    body_text: str
    body_html: str | None
    attempts: int


_CLAIM_COLUMNS = (
    T.id,
    T.message_key,
    T.customer_id,
    T.message_type,
    T.category,
    T.channel,
    T.locale,
    T.subject,
    T.body_text,
    T.body_html,
    T.attempts,
)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        cipher: FieldCipher,
        *,
        policy: NotifyPolicy | None = None,
        batch_size: int = 500,
        window: int = DEFAULT_WINDOW,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
        clock: Clock = utcnow,
        only_channels: Sequence[str] | None = None,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.cipher = cipher
        self.policy = policy or default_policy()
        self.batch_size = batch_size
        if window < 1:
            raise ValueError(f"the send window must be at least 1, got {window}")
        self.window = window
        self.lease = dt.timedelta(seconds=lease_seconds or self.policy.lease_seconds)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.only_channels = tuple(only_channels) if only_channels else None
        self._pg = engine.dialect.name == "postgresql"

    # -- 1. claim -----------------------------------------------------------------------
    def claim(self, now: dt.datetime) -> list[_Claimed]:
        claimed: list[_Claimed] = []
        lease_until = now + self.lease
        conditions = (
            (T.state == "sending", T.lease_until < now, T.lease_until),
            (T.state == "queued", T.next_attempt_at <= now, T.next_attempt_at),
            (T.state == "waiting", T.next_attempt_at <= now, T.next_attempt_at),
        )
        with self.engine.begin() as conn:
            for state_cond, due_cond, order in conditions:
                room = self.batch_size - len(claimed)
                if room <= 0:
                    break
                sub = select(T.id).where(state_cond, due_cond)
                if self.only_channels:
                    sub = sub.where(T.channel.in_(self.only_channels))
                sub = sub.order_by(order).limit(room)
                if self._pg:
                    sub = sub.with_for_update(skip_locked=True)
                stmt = (
                    update(T)
                    .where(T.id.in_(sub.scalar_subquery()))
                    .values(
                        state="sending",
                        lease_owner=self.worker_id,
                        lease_until=lease_until,
                        attempts=T.attempts + 1,
                    )
                    .returning(*_CLAIM_COLUMNS)
                )
                claimed.extend(_Claimed(*row) for row in conn.execute(stmt))  # type: ignore[call-arg]
        return claimed

    # -- 2. manners ---------------------------------------------------------------------
    def _manners(
        self, batch: list[_Claimed], now: dt.datetime
    ) -> tuple[list[_Claimed], list[tuple[_Claimed, dt.datetime, str]]]:
        with self.engine.connect() as conn:
            prefs = load_prefs(conn, {m.customer_id for m in batch})
            optional = {m.customer_id for m in batch if m.category != "mandatory"}
            window = dt.timedelta(hours=self.policy.frequency_cap.window_hours)
            recent: dict[str, list[dt.datetime]] = defaultdict(list)
            if optional:
                ids = list(optional)
                for start in range(0, len(ids), 500):
                    rows = conn.execute(
                        select(T.customer_id, T.sent_at).where(
                            T.customer_id.in_(ids[start : start + 500]),
                            T.state == "sent",
                            T.category != "mandatory",
                            T.sent_at >= now - window,
                        )
                    )
                    for cid, sent_at in rows:
                        recent[cid].append(_aware(sent_at) or now)
        go: list[_Claimed] = []
        held: list[tuple[_Claimed, dt.datetime, str]] = []
        for m in batch:
            p = prefs.get(m.customer_id, ContactPrefs())
            resume = p.quiet_until(now, m.channel, self.policy)
            if resume is not None:
                held.append((m, resume, "quiet hours"))
                continue
            if m.category != "mandatory":
                sent = recent[m.customer_id]
                if len(sent) >= p.cap(self.policy):
                    held.append((m, min(sent) + window, "frequency cap"))
                    continue
                sent.append(now)
            go.append(m)
        return go, held

    # -- 3. send ------------------------------------------------------------------------
    def _addresses(self, batch: list[_Claimed]) -> dict[str, tuple[bytes | None, bytes | None]]:
        ids = list({m.customer_id for m in batch if m.channel in ("sms", "email")})
        out: dict[str, tuple[bytes | None, bytes | None]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(Customer.customer_id, Customer.phone_enc, Customer.email_enc).where(
                        Customer.customer_id.in_(ids[start : start + 500])
                    )
                )
                for cid, phone, email in rows:
                    out[cid] = (phone, email)
        return out

    def _outgoing(
        self, batch: list[_Claimed]
    ) -> tuple[dict[str, list[tuple[_Claimed, Outgoing]]], list[tuple[_Claimed, SendResult]]]:
        """The addressed messages per channel, and the outcomes of those without an address."""
        encrypted = self._addresses(batch)
        by_channel: dict[str, list[tuple[_Claimed, Outgoing]]] = defaultdict(list)
        unaddressed: list[tuple[_Claimed, SendResult]] = []
        for m in batch:
            address: str | None
            if m.channel == "app":
                address = m.customer_id  # the gateway knows the customer's devices
            else:
                phone_enc, email_enc = encrypted.get(m.customer_id, (None, None))
                address = self.cipher.decrypt(phone_enc if m.channel == "sms" else email_enc)
            if not address:
                what = "phone number" if m.channel == "sms" else "e-mail address"
                error = f"no {what} on file"
                unaddressed.append((m, SendResult(ok=False, error=error, permanent=True)))
                continue
            by_channel[m.channel].append(
                (
                    m,
                    Outgoing(
                        message_key=m.message_key,
                        customer_id=m.customer_id,
                        message_type=m.message_type,
                        locale=m.locale,
                        address=address,
                        subject=m.subject,
                        body_text=m.body_text,
                        body_html=m.body_html,
                    ),
                )
            )
        return by_channel, unaddressed

    def _send(self, batch: list[_Claimed], report: DispatchReport) -> None:
        """Send per channel, recording each outcome as the channel reports it (see window)."""
        by_channel, unaddressed = self._outgoing(batch)
        if unaddressed:
            self._write_outcomes(unaddressed, report)
        for name, pairs in by_channel.items():
            claimed = [m for m, _ in pairs]
            channel = self.channels.get(name)
            if channel is None:
                missing = SendResult(ok=False, error=f"channel {name} not configured")
                self._write_outcomes([(m, missing) for m in claimed], report)
                continue
            window = AckWindow(self.window, self._writer(claimed, report))
            try:
                sent = channel.send_batch([o for _, o in pairs], window)
            except Exception as exc:  # a channel bug must not lose the batch: retry later
                log.exception("channel %s failed on a batch of %d", name, len(pairs))
                sent = [SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")] * len(pairs)
            window.finish(sent)
            report.flushes += window.flushes

    # -- 4. record ----------------------------------------------------------------------
    def _writer(
        self, claimed: list[_Claimed], report: DispatchReport
    ) -> Callable[[list[tuple[int, SendResult]]], None]:
        def write(done: list[tuple[int, SendResult]]) -> None:
            self._write_outcomes([(claimed[i], r) for i, r in done], report)

        return write

    def _write_outcomes(
        self, outcomes: list[tuple[_Claimed, SendResult]], report: DispatchReport
    ) -> None:
        """One transaction: each message sent, back to the queue with backoff, or dead."""
        now = self.clock().astimezone(dt.UTC)
        sent_rows: list[dict[str, Any]] = []
        other_rows: list[dict[str, Any]] = []
        log_rows: list[dict[str, Any]] = []
        retry = self.policy.retry
        sent_by_channel: Counter[str] = Counter()
        dead = retried = 0
        for m, r in outcomes:
            if r.ok:
                sent_rows.append({"b_id": m.id, "b_ref": r.provider_ref, "b_at": now})
                log_rows.append(_log_row(m.id, m.attempts, now, "sent", r.provider_ref))
                sent_by_channel[m.channel] += 1
                continue
            gone = r.permanent or m.attempts >= retry.max_attempts
            # A server's reply can echo the address ("550 <a@b.example> unknown"): mask it
            # before it reaches the outbox, the delivery log or a log line.
            error = redact_text(r.error or "unknown error")[:2000]
            other_rows.append(
                {
                    "b_id": m.id,
                    "b_state": "dead" if gone else "queued",
                    "b_next": now if gone else now + retry.backoff(m.attempts),
                    "b_err": error,
                    "b_attempts": m.attempts,
                }
            )
            log_rows.append(_log_row(m.id, m.attempts, now, "dead" if gone else "retry", error))
            if gone:
                dead += 1
                log.warning(
                    "message %s is dead after %d attempts: %s", m.message_key, m.attempts, error
                )
            else:
                retried += 1
        with self.engine.begin() as conn:
            record_outcomes(conn, sent_rows, other_rows, log_rows)
        report.sent += len(sent_rows)
        report.by_channel.update(sent_by_channel)
        report.dead += dead
        report.retried += retried

    def _hold(
        self,
        held: list[tuple[_Claimed, dt.datetime, str]],
        now: dt.datetime,
        report: DispatchReport,
    ) -> None:
        """Messages that must wait (quiet hours, frequency cap) go to ``waiting``; the claim's
        attempt is given back, since nothing was sent."""
        rows = [
            {
                "b_id": m.id,
                "b_state": "waiting",
                "b_next": resume,
                "b_err": None,
                "b_attempts": m.attempts - 1,
            }
            for m, resume, _ in held
        ]
        log_rows = [
            _log_row(m.id, m.attempts - 1, now, "held", f"{why} until {resume.isoformat()}")
            for m, resume, why in held
        ]
        with self.engine.begin() as conn:
            record_outcomes(conn, [], rows, log_rows)
        report.held += len(held)

    # -- the loop -----------------------------------------------------------------------
    def process_batch(self) -> DispatchReport | None:
        now = self.clock().astimezone(dt.UTC)
        batch = self.claim(now)
        if not batch:
            return None
        report = DispatchReport(claimed=len(batch), batches=1)
        go, held = self._manners(batch, now)
        if held:
            self._hold(held, now, report)
        if go:
            self._send(go, report)
        log.info(
            "batch of %d: %d sent, %d to retry, %d dead, %d held",
            len(batch),
            report.sent,
            report.retried,
            report.dead,
            report.held,
        )
        return report

    def run_once(self, max_batches: int | None = None) -> DispatchReport:
        """One pass: send everything due now, then return."""
        total = DispatchReport()
        while max_batches is None or total.batches < max_batches:
            report = self.process_batch()
            if report is None:
                break
            total.add(report)
        return total

    def run_forever(
        self, poll_seconds: float = 1.0, should_stop: Callable[[], bool] = lambda: False
    ) -> DispatchReport:
        """The worker: send what is due, sleep a little when nothing is, until told to stop."""
        total = DispatchReport()
        last_keepalive = time.monotonic()
        while not should_stop():
            report = self.process_batch()
            if report is not None:
                total.add(report)
                continue
            if time.monotonic() - last_keepalive > 30:
                for channel in self.channels.values():
                    channel.keepalive()
                last_keepalive = time.monotonic()
            time.sleep(poll_seconds)
        return total

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


def _log_row(
    message_id: int, attempt: int, at: dt.datetime, outcome: str, detail: str | None
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "attempt": attempt,
        "at": at,
        "outcome": outcome,
        "detail": detail,
    }


def outbox_status(engine: Engine) -> dict[str, Any]:
    """Messages per state and channel, and the oldest due message's age."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(T.state, T.channel, func.count()).group_by(T.state, T.channel)
        ).all()
    by_state: dict[str, dict[str, int]] = {}
    for state, channel, n in rows:
        by_state.setdefault(state, {})[channel] = int(n)
    totals = {state: sum(ch.values()) for state, ch in by_state.items()}
    return {"states": by_state, "totals": totals, "messages": sum(totals.values())}
