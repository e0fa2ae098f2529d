"""``cardpilot warn run --as-of DATE``: score the accounts current now, decide the early-warning
interventions, store them and queue their messages.

    store ─(account-id chunks)─► statement figures (overdue.reminders.reminder_input)
          ─► early-warning features and score (the registered model) ─► trigger states
          ─► warning.triggers.decide (cool-downs, cap) ─► interventions + advice ─► outbox

The chunked job loop (``batch.loop``) reads the store in chunks of accounts
(``store.warning_reads``); for the current ones (nothing past due) the early-warning model
scores them (on the statements, moved on by what the event consumer's running features add
since the latest statement: the features the consumer scores online), ``warning.yaml``'s
rules decide the interventions, and each chunk's scores, interventions and messages are
written in one transaction (the transactional outbox).

Idempotent: a score is stored once per (account, day); an intervention once per (account,
rule, statement cycle), its messages' outbox keys derived from its reference. A re-run (or a
run killed half-way and started again) stores and queues nothing twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry, digest_text
from cardpilot.batch.currency import require_currency
from cardpilot.batch.loop import ChunkSteps, StageClock, run_chunked
from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.warning_decisions import decided_rows, store_and_queue
from cardpilot.notify.warning_notices import AdviceTerms, QueuedWarnings
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.reminders import reminder_input, reminders_of
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.policy.catalogue import WARNING
from cardpilot.store.account_chunks import ChunkFrames
from cardpilot.store.audit import default_actor, record_audit
from cardpilot.store.db import open_store
from cardpilot.store.portfolio_facts import account_count
from cardpilot.store.warning_interventions import insert_scores, references_on
from cardpilot.store.warning_reads import WarningChunk, read_warning_chunks
from cardpilot.warning.features import warning_features
from cardpilot.warning.policy import WarningPolicy, load_warning_policy
from cardpilot.warning.scores import version_of, warning_scores
from cardpilot.warning.state import batch_states, event_dates
from cardpilot.warning.triggers import decide

DEFAULT_CHUNK_ROWS = 20_000
SCORE_STAGE = "score"
DECIDE_STAGE = "decide"
WARNING_FAMILY = "warning-gbm"  # the registry family whose champion scores by default

ProgressCallback = Callable[[int, int], None]


class WarnRunError(ValueError):
    """The early warning cannot run as asked: says what is wrong and what to do."""


@dataclass
class WarnRunResult:
    as_of: dt.date
    policy_version: str
    overdue_policy_version: str
    model_version: str
    accounts: int = 0  # accounts read
    current: int = 0  # of those, with a statement and nothing past due
    scored: int = 0  # current accounts the model scored
    interventions: int = 0  # decided this run (after cool-downs and the cap)
    stored: int = 0  # interventions this run added to the store
    already_stored: int = 0  # decided again, stored by an earlier run
    holds: int = 0  # holds on increases among the interventions decided
    queued: int = 0  # outbox rows inserted by this run
    already_queued: int = 0  # outbox rows an earlier run had inserted
    not_sent: int = 0  # interventions with no channel left (no address on any)
    seconds: float = 0.0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_intervention: dict[str, int] = field(default_factory=dict)
    queued_by_channel: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


def load_warning_model(model_dir: Path | None, home: Path) -> Any:
    """The early-warning model of ``model_dir``, else the registry's ``warning-gbm`` champion."""
    from cardpilot.scoring.registry import Registry, RegistryError, load_model_dir, read_metadata

    try:
        if model_dir is None:
            return Registry(home).champion(WARNING_FAMILY)
        subject = read_metadata(model_dir).get("subject")
        if subject != "warning":
            raise WarnRunError(
                f"--model {model_dir}: a {subject or 'behaviour'} model, not an early-warning one "
                "(train one with `cardpilot warn train`)"
            )
        return load_model_dir(model_dir)
    except RegistryError as exc:
        raise WarnRunError(f"{exc}; train one with `cardpilot warn train`") from exc


@dataclass(frozen=True)
class _Run:
    """What every chunk of a run shares."""

    db: Engine
    model: Any
    warning: WarningPolicy
    overdue: OverduePolicy
    terms: AdviceTerms
    composer: Composer
    now: dt.datetime
    result: WarnRunResult


def run_warning(
    database_url: str,
    *,
    as_of: dt.date,
    model: Any,
    warning_policy: WarningPolicy | None = None,
    overdue_policy: OverduePolicy | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    now: dt.datetime | None = None,
    timezone: str | None = None,
    progress: ProgressCallback | None = None,
) -> WarnRunResult:
    """Run the early warning over every account of the store on ``as_of`` (see the module).
    ``model``: an early-warning model (``load_warning_model``); ``now``: the outbox rows'
    creation time (default: the clock); ``timezone``: the issuer's (payments, limit changes
    and cash advances are dated in it; default ``CARDPILOT_TIMEZONE``)."""
    from cardpilot.config import get_settings

    zone = ZoneInfo(timezone or get_settings().timezone)
    started = time.perf_counter()
    warning = warning_policy or load_warning_policy()
    overdue = overdue_policy or load_overdue_policy()
    reminders_of(overdue)  # the minimum-due terms and the revolving rate come from there
    if warning.file.currency != overdue.file.currency:
        raise WarnRunError(
            f"warning policy {warning.version} is in {warning.file.currency}, overdue policy "
            f"{overdue.version} in {overdue.file.currency}: use one policy folder for both"
        )
    result = WarnRunResult(
        as_of=as_of,
        policy_version=warning.version,
        overdue_policy_version=overdue.version,
        model_version=version_of(model),
    )
    db = open_store(database_url)
    try:
        require_currency(
            db,
            warning.file.currency,
            error=WarnRunError,
            amounts="the warning policy's amounts",
            fix="Use a policy in the accounts' currency (--policy).",
            kind=WARNING,
        )
        run = _Run(
            db,
            model,
            warning,
            overdue,
            AdviceTerms.of(warning, overdue),
            default_composer(),
            (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
            result,
        )
        clock = StageClock(SCORE_STAGE, DECIDE_STAGE)
        counts: dict[str, Counter[str]] = {"rule": Counter(), "kind": Counter(), "ch": Counter()}
        chunks = read_warning_chunks(db, as_of, chunk_rows, zone)
        steps = _steps(run, counts)
        run_chunked(chunks, steps, clock=clock, total=account_count(db), progress=progress)
        result.by_rule = dict(sorted(counts["rule"].items()))
        result.by_intervention = dict(sorted(counts["kind"].items()))
        result.queued_by_channel = dict(sorted(counts["ch"].items()))
        result.stages = clock.rounded()
        result.seconds = round(time.perf_counter() - started, 3)
        _audit(db, result)
    finally:
        db.dispose()
    return result


def _audit(db: Engine, result: WarnRunResult) -> None:
    """One audit record per run (as for the review and the treatment: docs/audit.md), with a
    digest of the references of every intervention stored on the day."""
    payload = {
        "as_of": result.as_of.isoformat(),
        "policy_version": result.policy_version,
        "overdue_policy_version": result.overdue_policy_version,
        "model_version": result.model_version,
        "scored": result.scored,
        "interventions": result.interventions,
        "stored": result.stored,
        "queued": result.queued,
        "interventions_digest": digest_text("\n".join(references_on(db, result.as_of))),
    }
    subject = f"warning_run:{result.as_of.isoformat()}"
    record_audit(db, AuditEntry(default_actor(), "warning.run", subject, payload, after=payload))


@dataclass
class _Planned:
    scores: list[dict[str, Any]]
    interventions: list[dict[str, Any]]


def score_and_decide(chunk: WarningChunk, run: _Run, clock: StageClock) -> _Planned:
    """One chunk's scores of its current accounts and their interventions."""
    as_of = run.result.as_of
    due = reminder_input(
        chunk.statements, chunk.accounts, as_of, run.overdue, payments=chunk.payments
    ).filter(pl.col("days_past_due") <= 0)
    with clock.timing(SCORE_STAGE):
        current = due.select("account_id")
        frames = ChunkFrames(
            statements=chunk.statements.join(current, on="account_id", how="semi"),
            accounts=chunk.accounts.join(current, on="account_id", how="semi").select(
                "account_id", "customer_id", "credit_limit_minor", "open_date", "status", "currency"
            ),
            customers=chunk.customers,
        )
        features = warning_features(frames, as_of, events=chunk.event_inputs)
        scores = warning_scores(run.model, features)
    with clock.timing(DECIDE_STAGE):
        events = event_dates(chunk.increases, chunk.cash_advances, as_of)
        states = batch_states(due, features, scores, chunk.previous, events)
        fired = decide(states, run.warning, as_of, chunk.history)
        rows = decided_rows(states, fired, run.warning, run.terms)
    run.result.current += due.height
    scored = states.filter(pl.col("score").is_not_null())
    run.result.scored += scored.height
    score_rows = [
        {
            "account_id": r["account_id"],
            "as_of": as_of,
            "customer_id": r["customer_id"],
            "score": r["score"],
            "score_change": r["score_change"],
            "reason_codes": r["reason_codes"],
            "model_version": r["model_version"],
            "policy_version": run.warning.version,
        }
        for r in scored.iter_rows(named=True)
    ]
    return _Planned(score_rows, rows)


def _steps(
    run: _Run, counts: dict[str, Counter[str]]
) -> ChunkSteps[WarningChunk, _Planned, tuple[set[str], QueuedWarnings]]:
    """The early warning's steps of the chunked loop: decide a chunk, write it, count."""
    result = run.result

    def decide_chunk(chunk: WarningChunk, clock: StageClock) -> _Planned | None:
        result.accounts += chunk.seen
        if not (chunk.accounts.height and chunk.statements.height):
            return None
        planned = score_and_decide(chunk, run, clock)
        return planned if planned.scores or planned.interventions else None

    def write(
        planned: _Planned, before_commit: Callable[[], None]
    ) -> tuple[set[str], QueuedWarnings]:
        with run.db.begin() as conn:
            insert_scores(conn, planned.scores)
            added, queued = store_and_queue(
                conn, planned.interventions, run.warning, run.terms, run.composer, run.now
            )
            before_commit()
        return added, queued

    def collect(planned: _Planned, written: tuple[set[str], QueuedWarnings]) -> None:
        added, queued = written
        result.interventions += len(planned.interventions)
        result.stored += len(added)
        result.already_stored += len(planned.interventions) - len(added)
        result.holds += sum(1 for r in planned.interventions if r["kind"] == "hold_increases")
        result.queued += queued.inserted
        result.already_queued += queued.existing
        result.not_sent += queued.unsent
        counts["rule"].update(r["rule"] for r in planned.interventions)
        counts["kind"].update(r["intervention"] for r in planned.interventions)
        counts["ch"].update(queued.by_channel)

    return ChunkSteps(seen=lambda c: c.seen, decide=decide_chunk, write=write, collect=collect)
