"""The periodic limit review over the store: ``cardpilot review``.

    store ─(account chunks)─► features ─► score ─► decide_limits ─► write ─► export

Each chunk is one transaction (``cardpilot.store.decision_writer``): its decisions, the limit
history and account updates of the decisions it inserted, the watches after large increases,
the notices of its limit changes (the transactional outbox) and the run's counts. A run killed
at any point leaves whole chunks; the next run of the cycle skips the accounts already decided
and finishes the rest.

The review cycle is the half-year (``2005-H2``) for ``review.cycle_months: 6`` and the year for
12. A review decides an account at most once per cycle, and only on evidence newer than its
last decision: accounts already decided in the cycle are skipped (``skipped_within_cycle``), and
so are accounts with no statement dated after their last decision's as-of date
(``skipped_no_new_evidence``), so running again on the same data decides nothing. The policy
and the accounts must be in the same currency (the engine does not convert); a mismatch is an
error naming the fix. The decision is ``cardpilot.policy.limits.decide_limits`` on every
engine (``local``, or ``spark`` through ``mapInArrow``).

A decrease does not take effect on the review date: it waits for the notify policy's notice
period (``limit_notices.decrease_notice_days``) as a pending change, and its notice gives the
date (``cardpilot.store.pending_limits``). The review applies the pending changes that are due
by its as-of date before it reads any account (and again at its end, for a notice period of
zero days); ``cardpilot limits apply-pending`` applies them on any day.

A champion/challenger test (``experiment``: its two loaded policies) splits the review: each
account falls in an arm by the stable hash of its id and the test's name
(``cardpilot.domain.experiments``), and is decided by that arm's policy alone, on either engine;
each decision records the test, its arm and its policy's version. The run's own policy (its
cycle, watches, notices' texts) is the champion's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry
from cardpilot.audit.decisions import DecisionsDigest
from cardpilot.batch.currency import require_currency
from cardpilot.batch.dates import EmptyStoreError, default_as_of
from cardpilot.batch.kill_hook import KillHook
from cardpilot.batch.loop import ChunkSteps, ProgressCallback, StageClock, run_chunked
from cardpilot.batch.pending_limits import apply_pending_limits
from cardpilot.batch.scoring import (
    Scorer,
    model_version_of,
    reason_codes_of,
    score_chunk,
    score_reason_texts,
)
from cardpilot.csv_safety import write_safe_csv
from cardpilot.customer.advice import tips_advice as advise_tips
from cardpilot.domain.experiments import Arms
from cardpilot.engines.deciders import ENGINES, LimitDecider, experiment_decider, limit_decider
from cardpilot.notify.decision_notices import (
    decrease_effective_on,
    figure_columns,
    limit_change_outbox,
    limit_notice_context,
    tips_accounts,
)
from cardpilot.notify.policy import NotifyPolicy
from cardpilot.notify.policy import default_policy as default_notify_policy
from cardpilot.policy.customer import AdvicePolicy
from cardpilot.policy.loading import load_policy
from cardpilot.policy.schema import Policy
from cardpilot.store.account_chunks import DEFAULT_CHUNK_ROWS, EARLY_SUFFIX, AccountChunk
from cardpilot.store.audit import default_actor, record_audit
from cardpilot.store.cases import accounts_on_hold
from cardpilot.store.db import is_sqlite, make_engine, upgrade
from cardpilot.store.decision_writer import DecisionWriter, open_decision_writer
from cardpilot.store.limit_decisions import (
    ChunkWritten,
    DecisionChunk,
    DecisionKinds,
    counts_by,
    cycle_kinds,
    decision_rows,
    read_decisions,
)
from cardpilot.store.portfolio_facts import account_count
from cardpilot.store.review_backend import HelperProcesses, helper_processes, read_account_chunks
from cardpilot.store.review_runs import finish_review_run, start_review_run
from cardpilot.watch.checks import check_watches
from cardpilot.watch.rules import watch_start

# Crash-safety tests: "after:N" / "before_commit:N" (cardpilot.batch.kill_hook).
KILL_HOOK_ENV = "CARDPILOT_TEST_KILL_REVIEW"
STAGES = ("read", "features_score", "decide", "persist")


class ReviewError(ValueError):
    """The review cannot run as asked: says what is wrong and what to do."""


@dataclass
class ReviewResult:
    run_id: int
    cycle_id: str
    as_of: dt.date
    engine: str
    policy_version: str
    model_version: str | None
    decided: int = 0  # by this run
    skipped: int = 0  # not decided by this run: the three below, and accounts not reviewed
    skipped_within_cycle: int = 0  # decided in the cycle already (an earlier run)
    skipped_no_new_evidence: int = 0  # no statement newer than the account's last decision
    held: int = 0  # of those skipped: limits an analyst's override holds (store.cases)
    # Earlier decreases whose notice period ended by the as-of date, applied before (and, for a
    # notice period of 0 days, after) the run; and due ones whose limit had moved meanwhile.
    pending_applied: int = 0
    pending_superseded: int = 0
    early_reviews: int = 0  # decided in the cycle already, decided again on an early review
    watched: int = 0
    flags: int = 0
    seconds: float = 0.0
    # Whole cycle (this run and any earlier, interrupted one)
    by_action: dict[str, int] = field(default_factory=dict)
    by_grade: dict[str, int] = field(default_factory=dict)
    by_segment: dict[str, int] = field(default_factory=dict)
    cycle_decisions: int = 0
    out: str | None = None
    # Where the time went: waiting for the store (read), features + score, decide, persist.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # The champion/challenger test that split the run, and this run's decisions by arm.
    experiment: str | None = None
    by_arm: dict[str, int] = field(default_factory=dict)
    # This run's decisions by (action, grade, segment), as the chunks were written.
    run_kinds: Counter[tuple[Any, Any, Any]] = field(default_factory=Counter, repr=False)
    # This run's decisions as one digest, for its audit record (cardpilot.audit.decisions).
    digest: DecisionsDigest = field(default_factory=DecisionsDigest, repr=False)

    def as_json(self) -> dict[str, Any]:
        internal = ("run_kinds", "digest")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in internal}


def review_cycle_id(as_of: dt.date, cycle_months: int) -> str:
    """The review cycle an as-of date falls in: ``2005-H2`` (6 months) or ``2005`` (12)."""
    if cycle_months == 12:
        return f"{as_of.year}"
    return f"{as_of.year}-H{1 if as_of.month <= 6 else 2}"


def review_portfolio(
    database_url: str,
    scorer: Scorer,
    *,
    policy: Policy | None = None,
    as_of: dt.date | None = None,
    engine: str = "local",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    out: Path | str | None = None,
    progress: ProgressCallback | None = None,
    spark: Any = None,
    model_version: str | None = None,
    notify: bool = True,
    notify_policy: NotifyPolicy | None = None,
    tips_advice: AdvicePolicy | None = None,
    experiment: Arms[Policy] | None = None,
) -> ReviewResult:
    """Review every account of the store at ``database_url`` not yet decided in the cycle.

    ``scorer``: a model with ``.score(features)`` (a registry champion or ``load_model_dir``).
    ``engine``: ``local`` (in-process) or ``spark`` (``spark`` a session; default a local one).
    ``out``: export the cycle's decisions to CSV or Parquet (by suffix). ``notify``: queue the
    notice of every limit change in the outbox, in its decision's transaction.
    ``notify_policy``: the notices' policy, whose ``decrease_notice_days`` also dates the
    pending decreases (default: the shipped one).
    ``tips_advice``: the customer policy's advice, put in the tips message of every limit kept
    (``cardpilot.customer.advice``; each such account is rescored once per combination of
    actions).
    ``experiment``: a champion/challenger test's two policies (``policy`` is then its champion).
    """
    if engine not in ENGINES:
        raise ReviewError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    with helper_processes(database_url) as helpers:
        if experiment is not None:
            _check_arms(experiment)
            policy = experiment.champion
        policy = policy or load_policy()
        upgrade(database_url)
        # The chunk reader runs on its own thread (cardpilot.batch.prefetch).
        connect_args = {"check_same_thread": False} if is_sqlite(database_url) else {}
        db = make_engine(database_url, connect_args=connect_args)
        try:
            if experiment is not None:
                _check_start(db, experiment, as_of)
            result = _start_run(db, scorer, policy, as_of, engine, model_version)
            result.experiment = experiment.name if experiment is not None else None
            # The limits the review reads are those in force on its as-of date.
            _apply_pending(db, result)
            notices = _Notices(notify, notify_policy or default_notify_policy(), tips_advice)
            _review_chunks(
                db,
                result,
                scorer,
                policy,
                (engine, spark, experiment),
                chunk_rows,
                progress,
                notices,
                helpers,
            )
            _apply_pending(db, result)
            _count_cycle(db, result)
            if out is not None:
                export_decisions(db, result.cycle_id, Path(out))
                result.out = str(out)
        finally:
            db.dispose()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _check_arms(arms: Arms[Policy]) -> None:
    """A test's two policies must agree on what the run shares: currency and cycle."""
    champion, challenger = arms.champion.limits, arms.challenger.limits
    if champion.currency != challenger.currency:
        raise ReviewError(
            f"test {arms.name}: the champion's currency is {champion.currency}, the"
            f" challenger's {challenger.currency}; test policies in one currency"
        )
    if champion.review.cycle_months != challenger.review.cycle_months:
        raise ReviewError(
            f"test {arms.name}: the champion reviews every {champion.review.cycle_months}"
            f" months, the challenger every {challenger.review.cycle_months}; a test's"
            " policies share the review cycle"
        )


def _check_start(db: Engine, arms: Arms[Policy], as_of: dt.date | None) -> None:
    """A test splits no review dated before its start (an empty store fails later, saying so)."""
    with suppress(EmptyStoreError):
        as_of = as_of or default_as_of(db)
    if as_of is not None and arms.starts_after(as_of):
        raise ReviewError(
            f"test {arms.name} starts on {arms.start_on}: a review as of {as_of} comes before it"
        )


def _apply_pending(db: Engine, result: ReviewResult) -> None:
    applied = apply_pending_limits(db, result.as_of)
    result.pending_applied += applied.applied
    result.pending_superseded += applied.superseded


def _start_run(
    db: Engine,
    scorer: Scorer,
    policy: Policy,
    as_of: dt.date | None,
    engine: str,
    model_version: str | None,
) -> ReviewResult:
    """Check the review can run, then start its run."""
    fix = "Review with a policy in the accounts' currency (docs/review.md)."
    amounts = "the policy's amounts"
    require_currency(db, policy.limits.currency, error=ReviewError, amounts=amounts, fix=fix)
    try:
        as_of = as_of or default_as_of(db)
    except EmptyStoreError as exc:
        raise ReviewError(str(exc)) from None
    cycle_id = review_cycle_id(as_of, policy.limits.review.cycle_months)
    model_version = model_version or model_version_of(scorer)
    run_id = start_review_run(
        db,
        cycle_id=cycle_id,
        as_of=as_of,
        policy_version=policy.version,
        engine=engine,
        model_version=model_version,
    )
    return ReviewResult(run_id, cycle_id, as_of, engine, policy.version, model_version)


def _review_chunks(
    db: Engine,
    result: ReviewResult,
    scorer: Scorer,
    policy: Policy,
    on: tuple[str, Any, Arms[Policy] | None],
    chunk_rows: int,
    progress: ProgressCallback | None,
    notices: _Notices,
    helpers: HelperProcesses,
) -> None:
    """The chunks, then the watches; the run marked finished, or failed with the reason.
    ``on``: the engine, its Spark session (or None) and the test that splits the run."""
    clock = StageClock(*STAGES)
    engine, spark, experiment = on
    try:
        if experiment is None:
            decide = limit_decider(engine, policy, result.as_of, spark)
        else:
            decide = experiment_decider(engine, experiment, result.as_of, spark)
        total = account_count(db)
        with open_decision_writer(db, helpers.writer) as writer:
            chunks = read_account_chunks(
                db,
                as_of=result.as_of,
                cycle_id=result.cycle_id,
                chunk_rows=chunk_rows,
                reader=helpers.reader,
                total=total,
            )
            steps = _review_steps(db, result, scorer, decide, writer, policy, notices)
            run_chunked(
                chunks,
                steps,
                clock=clock,
                total=total,
                progress=progress,
                write_behind=writer.writes_behind,
                kill_hook=KillHook.from_env(KILL_HOOK_ENV),
            )
        result.stage_seconds = clock.rounded()
        result.flags = check_watches(db, policy, result.as_of)
    except BaseException as exc:
        finish_review_run(db, result.run_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        with suppress(Exception):  # the store may be what failed: the run's own error goes up
            audit_review_run(db, result, "failed")
        raise
    finish_review_run(db, result.run_id, "finished")
    audit_review_run(db, result, "finished")


def audit_review_run(db: Engine, result: ReviewResult, status: str) -> None:
    """One audit record for the run: its counts and the digest of the decisions it wrote (one
    record per run, not per decision: see cardpilot.audit.decisions)."""
    by_action = counts_by(result.run_kinds, 0)
    payload = {
        "run_id": result.run_id,
        "cycle_id": result.cycle_id,
        "as_of": result.as_of.isoformat(),
        "engine": result.engine,
        "policy_version": result.policy_version,
        "model_version": result.model_version,
        "status": status,
        "decided": result.decided,
        "skipped": result.skipped,
        "held": result.held,
        "watched": result.watched,
        "by_action": {str(k): n for k, n in sorted(by_action.items())},
        "decisions_digest": result.digest.hexdigest(),
        "decisions_digested": result.digest.rows,
    }
    if result.experiment is not None:
        payload["experiment"] = result.experiment
        payload["by_arm"] = dict(sorted(result.by_arm.items()))
    subject = f"review_run:{result.run_id}"
    record_audit(db, AuditEntry(default_actor(), "review.run", subject, payload, after=payload))


@dataclass(frozen=True)
class _Notices:
    queue: bool  # queue the notices of the review's limit changes in the outbox
    policy: NotifyPolicy  # their policy: texts, and the decrease's notice period
    # The customer policy's advice, put in the tips message of a kept limit (None: no advice).
    tips_advice: AdvicePolicy | None = None


@dataclass(frozen=True)
class _DecidedChunk:
    chunk: AccountChunk
    decisions: pl.DataFrame
    figures: pl.DataFrame | None = None  # the accounts' figures their notices' reasons show
    held: int = 0
    advice: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # tips' advice lines


def _tips_advice(
    chunk: AccountChunk,
    decided: pl.DataFrame,
    as_of: dt.date,
    scorer: Scorer,
    policy: Policy,
    notices: _Notices,
) -> dict[str, dict[str, list[str]]]:
    """The advice lines of the chunk's accounts whose kept limit gets the tips message, when
    the customer policy puts advice there (none otherwise)."""
    if not notices.queue or notices.tips_advice is None:
        return {}
    tips_after_keep = notices.policy.limit_notices.tips_after_keep
    kept = tips_accounts(decided, tips_after_keep)["account_id"].to_list()
    return advise_tips(chunk.frames, kept, as_of, scorer, policy, notices.tips_advice)


def _review_steps(
    db: Engine,
    result: ReviewResult,
    scorer: Scorer,
    decide: LimitDecider,
    writer: DecisionWriter,
    policy: Policy,
    notices: _Notices,
) -> ChunkSteps[AccountChunk, _DecidedChunk, ChunkWritten]:
    texts: dict[str, dict[str, str]] = {}
    effective = dt.datetime.combine(result.as_of, dt.time(), tzinfo=dt.UTC)
    decreases_from = decrease_effective_on(result.as_of, notices.policy)
    notify = notices.queue
    watch = watch_start(policy, result.as_of)
    # An analyst's override stands for its hold period: those accounts are left undecided.
    on_hold = sorted(accounts_on_hold(db, result.as_of))

    def decide_chunk(chunk: AccountChunk, clock: StageClock) -> _DecidedChunk | None:
        result.skipped += chunk.skipped
        result.skipped_within_cycle += chunk.skipped_within_cycle
        result.skipped_no_new_evidence += chunk.skipped_no_new_evidence
        if not chunk.accounts.height:
            return None
        with clock.timing("features_score"):
            table = score_chunk(chunk, scorer, result.as_of)
            held = 0
            if on_hold:
                scored = table.height
                table = table.filter(~pl.col("account_id").is_in(on_hold))
                held = scored - table.height
                result.held += held
                result.skipped += held
                if not table.height:
                    return None
            codes = reason_codes_of(table)
        with clock.timing("decide"):
            decided = decide(table, score_reason_texts(codes, texts))
        consecutive = table["consecutive_overdue_months"].cast(pl.Int64)
        figures = figure_columns(table) if notify else None
        advice = _tips_advice(chunk, decided, result.as_of, scorer, policy, notices)
        return _DecidedChunk(chunk, decided.with_columns(consecutive), figures, held, advice)

    def write(planned: _DecidedChunk, before_commit: Callable[[], None]) -> ChunkWritten:
        accounts = planned.chunk.accounts
        early = accounts.filter(pl.col("early_review"))["account_id"]
        early_cycle = result.cycle_id + EARLY_SUFFIX
        rows, sets = decision_rows(
            planned.decisions, result.run_id, result.cycle_id, early, early_cycle
        )
        chunk = DecisionChunk(
            rows=rows,
            text_sets=sets,
            run_id=result.run_id,
            first=planned.chunk.first,
            last=planned.chunk.last,
            effective=effective,
            skipped=planned.chunk.skipped + planned.held,
            watch=watch,
            decrease_effective_on=decreases_from,
        )
        context = limit_notice_context(
            policy, planned.figures, notices.policy, advice=planned.advice
        )
        outbox = (lambda changed: limit_change_outbox(db, changed, context)) if notify else None
        return writer.write(chunk, notices=outbox, before_commit=before_commit)

    def collect(planned: _DecidedChunk, written: ChunkWritten) -> None:
        result.early_reviews += int(planned.chunk.accounts["early_review"].sum())
        result.decided += written.inserted
        result.skipped += written.skipped_as_decided
        result.skipped_within_cycle += written.skipped_as_decided
        result.watched += written.watched
        result.run_kinds.update(written.by_kind)
        result.digest.update(planned.decisions)
        if "arm" in planned.decisions.columns:
            for arm, n in planned.decisions.group_by("arm").len().iter_rows():
                result.by_arm[str(arm)] = result.by_arm.get(str(arm), 0) + int(n)

    return ChunkSteps(lambda chunk: chunk.seen, decide_chunk, write, collect)


def _count_cycle(db: Engine, result: ReviewResult) -> None:
    """The cycle's decisions by action, grade and segment: this run's as it wrote them, and
    those of the cycle's other runs from the store."""
    counts = cycle_counts(db, result.cycle_id, (result.run_id, result.run_kinds))
    result.by_action, result.by_grade = counts["action"], counts["grade"]
    result.by_segment = counts["segment"]
    result.cycle_decisions = sum(result.by_action.values())


def cycle_counts(
    db: Engine, cycle_id: str, run: tuple[int, DecisionKinds] | None = None
) -> dict[str, dict[str, int]]:
    """Decisions of a cycle by action, grade and segment (a missing grade or segment as
    ``none``); ``run``: a run of the cycle and its decisions by kind, counted as given."""
    kinds: Counter[tuple[Any, Any, Any]] = Counter(
        cycle_kinds(db, cycle_id, other_than_run=run[0] if run else None)
    )
    if run is not None:
        kinds.update(run[1])
    out: dict[str, dict[str, int]] = {}
    for position, column in enumerate(("action", "grade", "segment")):
        named = {
            str(k) if k is not None else "none": n for k, n in counts_by(kinds, position).items()
        }
        out[column] = dict(sorted(named.items()))
    return out


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = (
    "account_id",
    "grade",
    "segment",
    "score",
    "pd",
    "old_limit",
    "new_limit",
    "action",
    "consecutive_overdue_months",
    "reason_codes",
    "reason_texts",
    "reason_texts_en",
    "increase_pct",
    "due_for_review",
    "old_limit_minor",
    "new_limit_minor",
    "as_of",
    "cycle_id",
    "policy_version",
    "model_version",
    "decision_id",
    "run_id",
)


def decisions_export_frame(decisions: pl.DataFrame) -> pl.DataFrame:
    """One row per decision in the export layout: money in yuan as exact decimals."""
    yuan = pl.Decimal(18, 2)
    return decisions.with_columns(
        (pl.col("old_limit_minor").cast(yuan) / 100).cast(yuan).alias("old_limit"),
        (pl.col("new_limit_minor").cast(yuan) / 100).cast(yuan).alias("new_limit"),
        # Exact decimal text (33.33), as the money columns: the applied percentage is rarely whole.
        (pl.col("increase_pct_bp").cast(yuan) / 100).cast(yuan).alias("increase_pct"),
        pl.col("reason_texts_zh").alias("reason_texts"),
    ).select(EXPORT_COLUMNS)


def export_decisions(db: Engine, cycle_id: str, path: Path) -> int:
    """Write a cycle's decisions to ``path`` (``.parquet`` or ``.csv``); returns the rows.

    CSV (formula-safe: ``cardpilot.csv_safety``) holds lists as ``;``-separated text (reason
    texts in zh-CN in ``reason_texts``, en in ``reason_texts_en``); Parquet keeps them as lists.
    """
    frame = decisions_export_frame(read_decisions(db, cycle_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.write_parquet(path)
    elif path.suffix.lower() == ".csv":
        write_safe_csv(
            frame.with_columns(
                pl.col(c).list.join(";")
                for c in ("reason_codes", "reason_texts", "reason_texts_en")
            ),
            path,
        )
    else:
        raise ReviewError(f"--out {path}: use a .csv or .parquet file name")
    return frame.height
