"""The consumer's store side in a child process of its own: the broker's work and the store's
run on two cores.

The event loop spends its time on nats-py (the protocol parser, a ``Msg`` a message, the
callbacks); the store side (parse, look-ups, the fold, the writes, the triggers, the commit)
spends several times that. On threads of one process they take turns at the interpreter lock;
here the store side is an ``Intake`` (``stream.batch_intake``: one batch planned while the one
before is written) in a child process, and the loop only sends it each batch's payloads and
reads back a ``BatchDone`` (outcomes, dead letters, counts: no frames).

The child is a fresh interpreter (``python -P -c``, started as ``multiprocessing``'s ``spawn``
starts one but without running the parent's main script again: the parent has threads, which a
fork would copy in whatever state they hold). It gets the policies, the time zone and the online
scorer pickled (the scorer without its caches; only cardpilot's own classes, which the child's
interpreter imports) and makes its own engine from the store's URL. Two one-way pipes carry the
traffic, framed as ``multiprocessing.connection`` frames them: the setup then batches in (a
pickled list of payloads; a thread of the parent sends them, so ``submit`` never waits for the
child to take one), results out (read by another thread, which completes the futures in
submission order).

Exactly once depends on the child never committing a batch its parent can no longer
acknowledge after a restart: it is killed with its parent (``PR_SET_PDEATHSIG``, and it
checks it still has the parent that started it), and it stops when its pipe ends. It ignores
SIGINT and SIGTERM, which a terminal or a service manager send the whole group: the parent
decides when it ends (it finishes the batches in hand, acknowledges them and closes the pipe).
A child that fails on a batch reports the error and its parent ends it: that batch and every
later one fail, none of them is acknowledged, and the broker delivers them again to the next
consumer.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection

from sqlalchemy import URL, make_url

from cardpilot.events.policy import EventsPolicy
from cardpilot.store.db import make_engine
from cardpilot.stream.batch_intake import BatchDone, Intake
from cardpilot.stream.consumer import batch_heap
from cardpilot.stream.online_scores import OnlineScorer
from cardpilot.warning.policy import WarningPolicy

# Linux's prctl option: the signal a process gets when the thread that started it ends.
PR_SET_PDEATHSIG = 1
# How long the child may take to start (an interpreter, the imports, a model unpickled).
START_TIMEOUT_S = 300.0
# How long ``close`` waits for the child to finish what it was given before killing it.
CLOSE_TIMEOUT_S = 120.0

_READY, _DONE, _FAILED = "ready", "done", "failed"


class IntakeProcessError(RuntimeError):
    """The intake's process failed or ended: the batches in it are not acknowledged."""


@dataclass(frozen=True)
class IntakeSetup:
    """What the child builds its ``Intake`` from (pickled to it)."""

    url: str  # the store's, with its password
    policy: EventsPolicy
    tz: dt.tzinfo
    warning: WarningPolicy | None
    scorer: OnlineScorer | None


def child_url(url: str | URL) -> str:
    """``url`` as the child opens it; refused for an in-memory SQLite database, which exists
    only inside the process that opened it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    ):
        raise IntakeProcessError(
            "an in-memory SQLite store exists only in this process, and the intake's process"
            " cannot open it: decide the batches in this process"
            " (ConsumeOptions.intake_process=False) or use a store file"
        )
    return parsed.render_as_string(hide_password=False)


class IntakeProcess:
    """An ``Intake`` in a child process (``BatchIntake``): ``submit`` hands it a batch,
    ``close`` ends it.

    Made on a thread that outlives it (the event loop's): the child is killed when the thread
    that started it ends. Waits, on making, until the child is ready (its start-up errors are
    raised here)."""

    def __init__(
        self,
        url: str | URL,
        policy: EventsPolicy,
        tz: dt.tzinfo,
        warning: WarningPolicy | None = None,
        scorer: OnlineScorer | None = None,
    ) -> None:
        setup = IntakeSetup(child_url(url), policy, tz, warning, scorer)
        their_requests, ours = os.pipe()
        our_replies, theirs = os.pipe()
        # (-P: the working directory is not searched first, so nothing there can stand in for
        # a cardpilot module)
        fds = (str(their_requests), str(theirs))
        command = [sys.executable, "-P", "-c", CHILD, str(os.getpid()), *fds]
        try:
            self._process = subprocess.Popen(
                command,
                pass_fds=(their_requests, theirs),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # the parent's (a command's JSON) is not the child's
            )
        finally:
            # The child's ends are its own now: with them closed here, its death reads as the
            # end of the results pipe, and the end of the batches pipe reads as ours.
            os.close(their_requests)
            os.close(theirs)
        self._requests = Connection(ours, readable=False)
        self._replies = Connection(our_replies, writable=False)
        self._lock = threading.Lock()
        self._pending: deque[Future[BatchDone]] = deque()
        self._failure: IntakeProcessError | None = None
        self._closed = False
        self._cpu_s = 0.0
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        try:
            # (the child gone already: ``_await_ready`` says how)
            with contextlib.suppress(OSError):
                self._requests.send_bytes(pickle.dumps(setup, protocol=pickle.HIGHEST_PROTOCOL))
            self._await_ready()
        except BaseException:
            self._requests.close()
            self._replies.close()
            self._process.kill()
            self._process.wait()
            raise
        self._writer = threading.Thread(target=self._send, name="intake-send", daemon=True)
        self._reader = threading.Thread(target=self._receive, name="intake-receive", daemon=True)
        self._writer.start()
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def cpu_s(self) -> float:
        """The child's CPU seconds since it was ready, as of its last result."""
        return self._cpu_s

    def submit(self, raws: list[bytes]) -> Future[BatchDone]:
        future: Future[BatchDone] = Future()
        # Running from now on: a batch handed over is decided whatever its caller does, so
        # it cannot be cancelled (and is then completed, not found cancelled).
        future.set_running_or_notify_cancel()
        payload = pickle.dumps(raws, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._closed:
                raise RuntimeError("the intake's process is closed")
            if self._failure is not None:
                future.set_exception(_again(self._failure))
                return future
            self._pending.append(future)
            self._outbox.put(payload)
        return future

    def close(self) -> None:
        """The batches submitted finished (or failed), the child ended: asked to, by the end
        of its batches pipe, and killed if it has not within ``CLOSE_TIMEOUT_S``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._outbox.put(None)
        # A child stuck in a batch (a lock that never comes) would keep both threads waiting:
        # past the timeout it is killed, which ends its pipes and with them the threads.
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        self._writer.join(CLOSE_TIMEOUT_S)
        self._reader.join(max(0.0, deadline - time.monotonic()))
        if self._writer.is_alive() or self._reader.is_alive():
            self._process.kill()
            self._writer.join()
            self._reader.join()
        self._process.wait()

    def _await_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._replies.poll(0.1):
            if self._process.poll() is not None:
                raise IntakeProcessError(f"the intake's process {_ended(self._process.returncode)}")
            if time.monotonic() > deadline:
                raise IntakeProcessError(
                    f"the intake's process was not ready within {START_TIMEOUT_S:.0f} s"
                )
        try:
            message = pickle.loads(self._replies.recv_bytes())
        except (EOFError, OSError):
            raise IntakeProcessError(
                f"the intake's process {_ended(self._process.wait())}"
            ) from None
        if message[0] == _FAILED:
            raise IntakeProcessError(f"the intake's process could not start: {message[1]}")

    def _send(self) -> None:
        """Batches to the child, in submission order, until ``close`` (or its death)."""
        try:
            while (payload := self._outbox.get()) is not None:
                self._requests.send_bytes(payload)
        except OSError:
            pass  # the child is gone: ``_receive`` reads its end and fails what is pending
        finally:
            self._requests.close()

    def _receive(self) -> None:
        """The child's results, each completing the oldest pending future, until the child
        ends; whatever is pending then fails."""
        failure: IntakeProcessError | None = None
        try:
            while True:
                message = pickle.loads(self._replies.recv_bytes())
                if message[0] == _DONE:
                    _, done, self._cpu_s = message
                    with self._lock:
                        future = self._pending.popleft()
                    future.set_result(done)
                else:
                    failure = IntakeProcessError(
                        f"the intake's process failed on a batch: {message[1]}; it and every"
                        " batch after it are not acknowledged (the broker delivers them again)"
                    )
                    # It would decide nothing more (every later batch fails there too).
                    self._process.kill()
                    break
        except (EOFError, OSError):
            pass
        except Exception as exc:  # an answer that cannot be read: nothing after it can be trusted
            failure = IntakeProcessError(f"the intake's process's answer was unreadable: {exc!r}")
            self._process.kill()
        finally:
            self._replies.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(CLOSE_TIMEOUT_S)
        if failure is None:
            failure = IntakeProcessError(
                f"the intake's process (pid {self._process.pid})"
                f" {_ended(self._process.returncode)}: the batches it held are not acknowledged"
                " (the broker delivers them again)"
            )
        with self._lock:
            self._failure = failure
            pending = list(self._pending)
            self._pending.clear()
        for number, future in enumerate(pending):
            future.set_exception(failure if number == 0 else _again(failure))


def _again(failure: IntakeProcessError) -> IntakeProcessError:
    return IntakeProcessError(f"an earlier batch failed: {failure}")


def _ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        return f"was killed by {signal.Signals(-exitcode).name}"
    return f"ended with exit code {exitcode}"


def _die_with(parent: int) -> None:
    """Be killed when the parent is (its starting thread ends), and end now if it already
    has: a consumer restarted after a SIGKILL must be the only one writing."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        sys.exit(1)


# The child's program: ``python -P -c CHILD <parent pid> <batches fd> <results fd>``.
CHILD = "import sys; from cardpilot.stream.intake_process import serve; serve(sys.argv[1:])"


def serve(argv: list[str]) -> None:
    """The child: batches from its batches pipe decided and committed in order, each answered
    on its results pipe; ends at the end of the batches, or is ended by the parent once it has
    reported a failure."""
    parent, requests_fd, replies_fd = (int(a) for a in argv)
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests = Connection(requests_fd, writable=False)
    replies = Connection(replies_fd, readable=False)
    try:
        setup: IntakeSetup = pickle.loads(requests.recv_bytes())
        engine = make_engine(setup.url)
        intake = Intake(engine, setup.policy, setup.tz, setup.warning, setup.scorer)
    except Exception as exc:
        replies.send_bytes(pickle.dumps((_FAILED, _described(exc))))
        raise
    try:
        replies.send_bytes(pickle.dumps((_READY,)))
        with batch_heap():
            _serve_batches(intake, requests, replies)
    finally:
        engine.dispose()


def _serve_batches(intake: Intake, requests: Connection, replies: Connection) -> None:
    """Each batch handed to the intake as it comes (it plans one while it writes the one
    before); a thread answers them in order as they are committed."""
    answers: queue.SimpleQueue[Future[BatchDone] | None] = queue.SimpleQueue()
    answering = threading.Thread(
        target=_answer, args=(answers, replies, time.process_time()), name="intake-answer"
    )
    answering.start()
    try:
        while True:
            try:
                raws = pickle.loads(requests.recv_bytes())
            except EOFError:
                return
            answers.put(intake.submit(raws))
    finally:
        answers.put(None)
        answering.join()
        intake.close()


def _answer(
    answers: queue.SimpleQueue[Future[BatchDone] | None], replies: Connection, started: float
) -> None:
    """The batches' results, in the order they were handed over, up to the first failure:
    the batches after it were planned on top of it (the intake writes none of them), and the
    parent, told, fails them all and ends this process."""
    while (future := answers.get()) is not None:
        try:
            done = future.result()
        except BaseException as exc:
            with contextlib.suppress(OSError):
                replies.send_bytes(pickle.dumps((_FAILED, _described(exc))))
            return
        spent = time.process_time() - started
        replies.send_bytes(pickle.dumps((_DONE, done, spent), protocol=pickle.HIGHEST_PROTOCOL))


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
