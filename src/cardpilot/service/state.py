"""What the service is configured with and what each worker holds: the store engine, the
scorer and policies the batch would use, the permission matrix and the signing keys.

``cardpilot serve`` hands its options to the workers (each its own process) through the
environment: ``CARDPILOT_DATABASE_URL`` and the ``CARDPILOT_SERVE_*`` variables below.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from cardpilot.batch.dates import EmptyStoreError, default_as_of
from cardpilot.batch.scoring import Scorer, score_reason_texts
from cardpilot.config import Settings, get_settings
from cardpilot.notify.policy import NotifyPolicy
from cardpilot.notify.policy import default_policy as default_notify_policy
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.policy.cases import CasePolicy, load_case_policy
from cardpilot.policy.catalogue import LIMITS, OVERDUE, resolve_policy
from cardpilot.policy.loading import PolicyError, load_policy
from cardpilot.policy.permissions import PermissionMatrix, load_permissions
from cardpilot.policy.schema import Policy
from cardpilot.privacy import FieldCipher
from cardpilot.scoring.account_score import score_codes
from cardpilot.scoring.registry import Registry, RegistryError, load_model_dir
from cardpilot.scoring.scorecard import ScorecardModel
from cardpilot.service.credentials import SigningKeys
from cardpilot.service.problems import ApiError
from cardpilot.store.db import is_sqlite, make_engine
from cardpilot.store.experiments import promoted_policy
from cardpilot.stream.broker import Broker

MODEL_ENV = "CARDPILOT_SERVE_MODEL"
POLICY_ENV = "CARDPILOT_SERVE_POLICY"
OVERDUE_POLICY_ENV = "CARDPILOT_SERVE_OVERDUE_POLICY"
PERMISSIONS_ENV = "CARDPILOT_SERVE_PERMISSIONS"
# How long a worker trusts what it read of an API key, or the store's default as-of day.
CACHE_SECONDS = 30.0
# The default day moves only when a new cycle's statements are imported (monthly), and reading
# it scans every statement (about a CPU-second on 6M rows, which would stall a busy worker's
# neighbours every CACHE_SECONDS): a new cycle is the default within ten minutes; a caller that
# needs it sooner names the day.
AS_OF_REFRESH_SECONDS = 600.0


@dataclass(frozen=True)
class ServiceConfig:
    database_url: str
    model: Path | None = None  # a model folder; None: the registry's scorecard champion
    policy: str | None = None  # limit policy name or folder; None: the shipped default
    overdue_policy: str | None = None
    permissions: Path | None = None  # a permissions.yaml; None: the shipped one

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> ServiceConfig:
        settings = settings or get_settings()

        def path(name: str) -> Path | None:
            value = os.environ.get(name)
            return Path(value) if value else None

        return cls(
            database_url=settings.resolved_database_url(),
            model=path(MODEL_ENV),
            policy=os.environ.get(POLICY_ENV) or None,
            overdue_policy=os.environ.get(OVERDUE_POLICY_ENV) or None,
            permissions=path(PERMISSIONS_ENV),
        )

    def environment(self) -> dict[str, str]:
        """The variables that give a worker process this configuration."""
        out = {"CARDPILOT_DATABASE_URL": self.database_url}
        for name, value in (
            (MODEL_ENV, self.model),
            (POLICY_ENV, self.policy),
            (OVERDUE_POLICY_ENV, self.overdue_policy),
            (PERMISSIONS_ENV, self.permissions),
        ):
            if value is not None:
                out[name] = str(value)
        return out


def load_scorer(model: Path | None, settings: Settings) -> Scorer | None:
    """The model folder (or the folder of one per family: its scorecard), else the registry's
    scorecard champion; None when there is neither (scoring routes then answer 503)."""
    try:
        if model is None:
            scorer: Scorer = Registry(settings.home).champion("scorecard")
            return scorer
        if (model / "scorecard").is_dir() and not (model / "metadata.json").exists():
            model = model / "scorecard"
        return load_model_dir(model)
    except (RegistryError, FileNotFoundError):
        return None


@dataclass
class TimedCache:
    """A small per-worker cache whose entries are trusted for ``seconds``."""

    seconds: float = CACHE_SECONDS
    entries: dict[Any, tuple[float, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Any) -> Any:
        with self.lock:
            hit = self.entries.get(key)
        if hit is None or time.monotonic() - hit[0] > self.seconds:
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            if len(self.entries) > 10_000:
                self.entries.clear()
            self.entries[key] = (time.monotonic(), value)


def _engine(url: str) -> Engine:
    # Requests run on a thread pool: SQLite connections move between threads.
    if is_sqlite(url):
        return make_engine(url, connect_args={"check_same_thread": False})
    return make_engine(url, pool_size=8, max_overflow=8)


def _promoted(db: Engine, kind: str) -> str | None:
    """The challenger of the store's last promoted test of ``kind``, as the batch takes it when
    no policy is named; a worker reads it at start."""
    promoted = promoted_policy(db, kind)
    return None if promoted is None else promoted.challenger


def _case_policy(limits: Path | None) -> CasePolicy:
    """The limit policy's cases.yaml, or the shipped one when its folder has none."""
    try:
        return load_case_policy(limits)
    except PolicyError:
        return load_case_policy(None)


@dataclass
class ServiceState:
    config: ServiceConfig
    settings: Settings
    db: Engine
    scorer: Scorer | None
    policy: Policy
    overdue_policy: OverduePolicy
    case_policy: CasePolicy
    matrix: PermissionMatrix
    signing_keys: SigningKeys
    cipher: FieldCipher
    notify_policy: NotifyPolicy
    # Where POST /v1/events publishes: CARDPILOT_NATS_URL, CARDPILOT_EVENTS_STREAM and
    # CARDPILOT_EVENTS_SUBJECT, as for `cardpilot events publish`.
    broker: Broker = field(default_factory=Broker.from_env)
    cache: TimedCache = field(default_factory=TimedCache)
    # Whether a worker reads one account's story on its event loop rather than its thread
    # pool: on SQLite the read is the worker's own CPU (the store's pages are in memory, there
    # is no wait to overlap), about a millisecond, while a hop to the pool and back costs a
    # tenth of that and, with a backlog, dozens of pool threads contending for the GIL cost
    # more CPU per request than the read; on PostgreSQL a read waits on the server, on the pool.
    reads_on_loop: bool = False
    _refresh: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _first_read: threading.Lock = field(default_factory=threading.Lock, repr=False)
    warmed: threading.Event = field(default_factory=threading.Event, repr=False)
    _score_texts: dict[str, dict[str, str]] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config: ServiceConfig, settings: Settings | None = None) -> ServiceState:
        settings = settings or get_settings()
        db = _engine(config.database_url)
        limits = resolve_policy(
            config.policy or _promoted(db, "limits"), kind=LIMITS, settings=settings
        )
        overdue = resolve_policy(
            config.overdue_policy or _promoted(db, "overdue"), kind=OVERDUE, settings=settings
        )
        return cls(
            config=config,
            settings=settings,
            db=db,
            scorer=load_scorer(config.model, settings),
            policy=load_policy(limits),
            overdue_policy=load_overdue_policy(overdue),
            case_policy=_case_policy(limits),
            matrix=load_permissions(config.permissions),
            signing_keys=SigningKeys.from_settings(settings),
            cipher=FieldCipher.from_settings(settings),
            notify_policy=default_notify_policy(),
            reads_on_loop=is_sqlite(config.database_url),
        )

    def score_texts(self) -> dict[str, dict[str, str]]:
        """The zh-CN and en texts of every reason code the scorecard's scores can carry, read
        once: the decision's plan is cached by the texts it is given, so one set for every
        account keeps it built once."""
        if self._score_texts is None:
            codes = score_codes(self.scorer) if isinstance(self.scorer, ScorecardModel) else []
            self._score_texts = score_reason_texts(codes, {})
        return self._score_texts

    def score_texts_with(self, codes: Iterable[str]) -> dict[str, dict[str, str]]:
        """``score_texts`` with the texts of ``codes`` added where it lacks them (a model other
        than a scorecard names its codes as it scores): a new set replaces the held one, so a
        request reading the held set never sees it change."""
        texts = self.score_texts()
        missing = [c for c in codes if c not in texts]
        if not missing:
            return texts
        grown = score_reason_texts(missing, dict(texts))
        self._score_texts = grown
        return grown

    def require_scorer(self) -> Scorer:
        if self.scorer is None:
            raise ApiError(
                503,
                "the service has no model: start it with --model DIR, or promote a champion"
                " (cardpilot model promote)",
            )
        return self.scorer

    def default_as_of(self) -> dt.date:
        """The day after the store's latest statement cycle (what a review defaults to).

        Reading it scans the statements (seconds on a large store), so a worker reads it once,
        at start (``warm``) or on the first request that needs it, the requests arriving
        meanwhile waiting for that one read, and then refreshes it on a thread of its own every
        ``AS_OF_REFRESH_SECONDS``, answering with the day it has meanwhile."""
        known = self.cache.entries.get("default_as_of")
        if known is None:
            with self._first_read:  # one scan; the requests that came meanwhile wait for it
                known = self.cache.entries.get("default_as_of")
                if known is None:
                    return self._read_default_as_of()
        stale = time.monotonic() - known[0] > AS_OF_REFRESH_SECONDS
        if stale and self._refresh.acquire(False):

            def refresh() -> None:
                try:
                    self._read_default_as_of()
                except ApiError:
                    pass
                finally:
                    self._refresh.release()

            threading.Thread(target=refresh, daemon=True).start()
        return dt.date.fromisoformat(known[1])

    def _read_default_as_of(self) -> dt.date:
        try:
            day = default_as_of(self.db)
        except EmptyStoreError as exc:
            raise ApiError(409, str(exc)) from None
        self.cache.put("default_as_of", day.isoformat())
        return day

    def warm(self) -> None:
        """Read the default day on a thread now, so that no request waits for the scan."""

        def read() -> None:
            with contextlib.suppress(ApiError):  # an empty store: the requests will say so
                self.default_as_of()
            self.warmed.set()

        threading.Thread(target=read, daemon=True).start()
