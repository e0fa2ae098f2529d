"""SMS over SMPP 3.4: our own client (bind_transmitter, windowed submit_sm, enquire_link,
unbind) over a plain socket.

Text in the GSM 7-bit alphabet goes as GSM-7 (data_coding 0x00): 160 septets fit one SMS, 153
each part of a longer one; anything else, Chinese included, as UCS-2 (data_coding 0x08): 70
characters, or 67 per part (``cardpilot.notify.sms_coding``). Each part of a concatenated SMS
carries a User Data Header (IEI 0x00: reference, total, sequence) with ``esm_class`` UDHI set,
which the handset joins back.

Throughput: up to ``window`` submit_sm PDUs are in flight before a response is awaited
(SMPP 3.4 §2.7 allows asynchronous operation), and PDUs are written in batches.

Idempotency: SMPP has no client message id, so the message key travels in a vendor-specific
optional parameter (tag 0x1501, the 0x1400–0x3FFF range is reserved for SMSC vendors); an SMSC
or gateway that does not know the tag ignores it (SMPP 3.4 §3.2.4: unknown optional
parameters are ignored), so on a plain SMSC a resend after a crash can reach the phone twice.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from cardpilot.notify.channels import Acks, Outgoing, SendResult, Unbounded
from cardpilot.notify.sms_coding import split_sms
from cardpilot.privacy.masking import mask_phone

log = logging.getLogger(__name__)

BIND_TRANSMITTER = 0x00000002
BIND_TRANSMITTER_RESP = 0x80000002
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
GENERIC_NACK = 0x80000000

TAG_MESSAGE_KEY = 0x1501
ESM_UDHI = 0x40
# Transient SMSC errors: throttled, queue full, system error; others are permanent.
TRANSIENT_STATUS = {0x08, 0x14, 0x58, 0x64}


class SmppError(OSError):
    pass


@dataclass(frozen=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str
    source: str
    window: int
    timeout: float

    @classmethod
    def from_url(cls, url: str) -> SmppConfig:
        parts = urlsplit(url)
        if parts.scheme != "smpp":
            raise ValueError(f"CARDPILOT_SMPP_URL must start with smpp://, got {url!r}")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 2775,
            system_id=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            system_type=q.get("system_type", ""),
            source=q.get("source", "cardpilot"),
            window=max(1, int(q.get("window", "64"))),
            timeout=float(q.get("timeout", "30")),
        )


def _cstr(value: str, encoding: str = "ascii") -> bytes:
    return value.encode(encoding) + b"\x00"


def submit_sm_bodies(cfg: SmppConfig, item: Outgoing) -> list[bytes]:
    """The submit_sm bodies of one message (one per part)."""
    coding, parts = split_sms(item.body_text)
    ref = hashlib.sha256(item.message_key.encode()).digest()[0]
    key_tlv = struct.pack(">HH", TAG_MESSAGE_KEY, len(item.message_key)) + (
        item.message_key.encode("ascii")
    )
    head = (
        _cstr("")  # service_type
        + bytes([5, 0])  # source_addr_ton (alphanumeric), npi
        + _cstr(cfg.source)
        + bytes([1, 1])  # dest_addr_ton (international), npi (E.164)
        + _cstr(item.address)
    )
    bodies = []
    total = len(parts)
    for seq, part in enumerate(parts, start=1):
        if total > 1:
            udh = bytes([5, 0, 3, ref, total, seq])
            esm, payload = ESM_UDHI, udh + part
        else:
            esm, payload = 0, part
        body = (
            head
            + bytes([esm, 0, 0])  # esm_class, protocol_id, priority_flag
            + _cstr("")  # schedule_delivery_time
            + _cstr("")  # validity_period
            + bytes([1, 0, coding, 0])  # registered_delivery, replace, data_coding, sm_default
            + bytes([len(payload)])
            + payload
            + key_tlv
        )
        bodies.append(body)
    return bodies


class SmppChannel:
    name = "sms"

    def __init__(self, config: SmppConfig) -> None:
        self.config = config
        self.sock: socket.socket | None = None
        self._seq = 0
        self._buf = bytearray()
        self._last_io = 0.0

    @classmethod
    def from_url(cls, url: str) -> SmppChannel:
        return cls(SmppConfig.from_url(url))

    # -- PDU plumbing -------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = self._seq + 1 if self._seq < 0x7FFFFFFF else 1
        return self._seq

    @staticmethod
    def _pdu(command_id: int, seq: int, body: bytes = b"", status: int = 0) -> bytes:
        return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body

    def _read_pdus(self) -> list[tuple[int, int, int, bytes]]:
        """At least one PDU: blocks until one arrives, returns every complete one buffered."""
        assert self.sock is not None
        out: list[tuple[int, int, int, bytes]] = []
        while not out:
            chunk = self.sock.recv(262144)
            if not chunk:
                raise SmppError("SMSC closed the connection")
            self._buf += chunk
            while len(self._buf) >= 16:
                length, cid, status, seq = struct.unpack_from(">IIII", self._buf)
                if length < 16 or length > 65536:
                    raise SmppError(f"malformed PDU length {length}")
                if len(self._buf) < length:
                    break
                out.append((cid, status, seq, bytes(self._buf[16:length])))
                del self._buf[:length]
        self._last_io = time.monotonic()
        return out

    def _request(self, command_id: int, body: bytes = b"") -> tuple[int, bytes]:
        assert self.sock is not None
        seq = self._next_seq()
        self.sock.sendall(self._pdu(command_id, seq, body))
        while True:
            for cid, status, rseq, rbody in self._read_pdus():
                if cid == ENQUIRE_LINK:
                    self.sock.sendall(self._pdu(ENQUIRE_LINK_RESP, rseq))
                elif rseq == seq:
                    return status, rbody

    def connect(self) -> None:
        if self.sock is not None:
            return
        c = self.config
        sock = socket.create_connection((c.host, c.port), timeout=c.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self._buf = sock, bytearray()
        body = (
            _cstr(c.system_id)
            + _cstr(c.password)
            + _cstr(c.system_type)
            + bytes([0x34, 0, 0])  # interface_version 3.4, addr_ton, addr_npi
            + _cstr("")  # address_range
        )
        try:
            status, _ = self._request(BIND_TRANSMITTER, body)
        except OSError:
            self.reset()
            raise
        if status != 0:
            self.reset()
            raise SmppError(f"bind_transmitter refused (command_status 0x{status:08X})")

    def reset(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    # -- sending ------------------------------------------------------------------------
    def send_batch(self, items: Sequence[Outgoing], acks: Acks | None = None) -> list[SendResult]:
        acks = acks or Unbounded()
        try:
            if self.sock is not None and time.monotonic() - self._last_io > 30:
                self.keepalive()
            self.connect()
        except OSError as exc:
            return [SendResult(ok=False, error=f"SMPP connect: {exc}") for _ in items]
        pending: list[tuple[int, bytes]] = []  # (item index, submit_sm body)
        for idx, item in enumerate(items):
            pending.extend((idx, body) for body in submit_sm_bodies(self.config, item))
        batch = _Batch(len(items), pending)
        try:
            self._submit_windowed(batch, acks)
        except OSError as exc:
            self.reset()
            error = f"SMPP {type(exc).__name__}: {exc}"
            return [
                batch.result(i) if batch.answered(i) else SendResult(ok=False, error=error)
                for i in range(len(items))
            ]
        results = [batch.result(i) for i in range(len(items))]
        for item, r in zip(items, results, strict=True):
            if not r.ok:
                log.info(
                    "SMS %s to %s not accepted: %s",
                    item.message_key,
                    mask_phone(item.address),
                    r.error,
                )
        return results

    def _submit_windowed(self, batch: _Batch, acks: Acks) -> None:
        """Up to ``config.window`` PDUs in flight on the session; a new message starts only
        when ``acks`` has a place for it, and each message's outcome goes to ``acks`` as soon
        as the last ``submit_sm_resp`` of its parts is in."""
        assert self.sock is not None
        window = self.config.window
        pending = batch.pending
        inflight: dict[int, int] = {}  # sequence number → item index
        started = -1  # the last message admitted (parts are contiguous in ``pending``)
        i = 0
        while i < len(pending) or inflight:
            out = bytearray()
            while i < len(pending) and len(inflight) < window:
                idx, body = pending[i]
                if idx != started:
                    if inflight and acks.room() <= 0:
                        break  # read answers while the outcomes already in are committed
                    acks.admit()  # with nothing in flight: wait for a place
                    started = idx
                seq = self._next_seq()
                inflight[seq] = idx
                out += self._pdu(SUBMIT_SM, seq, body)
                i += 1
            if out:
                self.sock.sendall(out)
            for cid, status, seq, body in self._read_pdus():
                if cid == ENQUIRE_LINK:
                    self.sock.sendall(self._pdu(ENQUIRE_LINK_RESP, seq))
                    continue
                if cid == GENERIC_NACK and seq not in inflight:
                    raise SmppError(f"generic_nack 0x{status:08X}")
                idx_or_none = inflight.pop(seq, None)
                if idx_or_none is None:
                    continue
                if batch.answer(idx_or_none, status, body):
                    acks.done(idx_or_none, batch.result(idx_or_none))

    def keepalive(self) -> None:
        if self.sock is None:
            return
        try:
            status, _ = self._request(ENQUIRE_LINK)
            if status != 0:
                self.reset()
        except OSError:
            self.reset()

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self._request(UNBIND)
        except OSError:
            pass
        finally:
            self.reset()


class _Batch:
    """Per message of a batch: its parts still unanswered, its first error status, and the
    SMSC's message ids (``submit_sm_resp``), one per part."""

    def __init__(self, n: int, pending: list[tuple[int, bytes]]) -> None:
        self.pending = pending
        self.left = [0] * n
        for idx, _ in pending:
            self.left[idx] += 1
        self.status = [0] * n
        self.refs: list[list[str]] = [[] for _ in range(n)]

    def answer(self, idx: int, status: int, body: bytes) -> bool:
        """Record one ``submit_sm_resp``; true when it was the message's last part."""
        if status != 0:
            self.status[idx] = self.status[idx] or status
        else:
            self.refs[idx].append(body.split(b"\x00", 1)[0].decode("ascii", "replace"))
        self.left[idx] -= 1
        return self.left[idx] == 0

    def answered(self, idx: int) -> bool:
        return self.left[idx] == 0 or self.status[idx] != 0

    def result(self, idx: int) -> SendResult:
        status = self.status[idx]
        if status == 0:
            return SendResult(ok=True, provider_ref=",".join(self.refs[idx])[:128])
        return SendResult(
            ok=False,
            error=f"submit_sm command_status 0x{status:08X}",
            permanent=status not in TRANSIENT_STATUS,
        )
