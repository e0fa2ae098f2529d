"""The overdue treatment over the store: ``cardpilot overdue treat``.

    store ─(account-id chunks)─► age ─► features ─► score (PD) ─► + plan history
          ─► explained_treatments ─► with_limits ─► store, limit actions, ledger postings,
             notices ─► export

The chunked job loop (``batch.loop``) reads the store in account-id chunks
(``store.overdue_treatments.read_treatment_chunks``); each chunk's overdue accounts are aged on
``as_of`` by their statements and, where it can judge, by the ledger's payments
(``overdue.aging.LedgerPayments``; accounts on an accepted or active 和谐还款 plan are left to
the plan), scored with the model, joined with their broken promises (和谐还款 plans broken on
or before ``as_of``) and cures, and treated (``overdue.treatment_table``). One transaction per
chunk inserts the decisions (``ON CONFLICT (account_id, as_of) DO NOTHING``), applies the limit
actions of the decisions *this run inserted*, posts their charges, waivers and limit actions to
the ledger (``overdue.treatment_postings``, keyed by the decision) and queues their notices
through the outbox. A re-run of the same date (or one after a kill) treats each account
exactly once and posts nothing twice.

The policy and the accounts must be in the same currency (the engine does not convert; the UCI
data is NT$: use ``--policy uci-twd``, as for the review).

A champion/challenger test (``experiment``) splits the treatment as it splits the review: each
overdue account is treated by its arm's policy alone (``cardpilot.domain.experiments``), and
each decision records the test, the arm and its policy's version.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry, digest_text
from cardpilot.batch.currency import require_currency
from cardpilot.batch.kill_hook import KillHook
from cardpilot.batch.ledger_view import known_through
from cardpilot.batch.loop import ChunkSteps, StageClock, run_chunked
from cardpilot.batch.scoring import Scorer, model_version_of
from cardpilot.config import get_settings
from cardpilot.domain.experiments import ARMS, Arms, arm_column
from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.treatment_notices import enqueue_on, treatment_notices
from cardpilot.overdue.aging import LEDGER_PAYMENTS, LedgerPayments, age_accounts
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.overdue.treatment_export import (
    ExportError,
    treatments_export_frame,
    write_treatments_export,
)
from cardpilot.overdue.treatment_postings import treatment_postings
from cardpilot.overdue.treatment_table import (
    explained_treatments,
    no_broken_promises,
    with_limits,
)
from cardpilot.policy.catalogue import OVERDUE
from cardpilot.scoring.features import behaviour_features
from cardpilot.simulation.overdue import expected_outcomes, outcome_rows, transition_rates
from cardpilot.store.account_chunks import ChunkFrames
from cardpilot.store.aging_transitions import observed_transitions
from cardpilot.store.audit import default_actor, record_audit
from cardpilot.store.db import open_store
from cardpilot.store.ledger import PAYMENT_LOOKBACK_DAYS, insert_postings
from cardpilot.store.overdue_treatments import (
    TreatmentChunk,
    apply_limit_actions,
    insert_treatments,
    inserted_charges,
    inserted_treatments,
    read_treatment_chunks,
    read_treatments,
    treatment_records,
)
from cardpilot.store.portfolio_facts import account_count

DEFAULT_CHUNK_ROWS = 50_000
DECIDE_STAGE = "treat"
# The crash-safety tests' kill hook (``batch.kill_hook``): e.g. ``before_commit:2``.
KILL_HOOK_ENV = "CARDPILOT_TEST_KILL_TREAT"

ProgressCallback = Callable[[int, int], None]


class TreatError(ValueError):
    """The treatment cannot run as asked: says what is wrong and what to do."""


@dataclass
class TreatResult:
    run_key: str
    as_of: dt.date
    policy_version: str
    model_version: str | None
    experiment: str | None = None  # the champion/challenger test that split the run
    treated: int = 0  # decisions inserted by this run
    skipped: int = 0  # overdue accounts already treated on this date by an earlier run
    on_plan: int = 0  # accounts left to their accepted or active 和谐还款 plan (not treated)
    notices: int = 0  # outbox messages queued by this run
    postings: int = 0  # ledger postings added: charges, waivers, limit actions (docs/ledger.md)
    # The last day the store's payment data reaches: up to it, days past due come from what
    # the ledger shows due and unpaid (statements with a minimum due).
    payments_known_through: dt.date | None = None
    frozen: int = 0
    cut: int = 0
    seconds: float = 0.0
    # The whole date (this run and any earlier one)
    overdue_accounts: int = 0
    by_segment: dict[str, int] = field(default_factory=dict)
    by_treatment: dict[str, int] = field(default_factory=dict)
    by_limit_action: dict[str, int] = field(default_factory=dict)
    mean_pd_by_segment: dict[str, float | None] = field(default_factory=dict)
    out: str | None = None

    def as_json(self) -> dict[str, Any]:
        # ``run_id`` as every command's JSON names a run (its key is the id of this run)
        out = asdict(self)
        return {"run_id": out.pop("run_key"), **out}


def chunk_frames(chunk: TreatmentChunk) -> ChunkFrames:
    """The three frames ``behaviour_features`` reads, of a chunk's pending accounts."""
    return ChunkFrames(
        statements=chunk.statements,
        accounts=chunk.accounts.select(
            "account_id", "customer_id", "credit_limit_minor", "open_date", "status", "currency"
        ),
        customers=chunk.accounts.select(
            "customer_id", "birth_year", "education", "annual_income_minor"
        ).unique("customer_id"),
    )


def chunk_ledger(
    chunk: TreatmentChunk, known_through: dt.date | None, as_of: dt.date
) -> LedgerPayments:
    """What the ledger shows of a chunk's payments, to age its accounts by (``overdue.aging``)."""
    return LedgerPayments(
        chunk.payments if chunk.payments is not None else pl.DataFrame(schema=LEDGER_PAYMENTS),
        known_through,
        as_of - dt.timedelta(days=PAYMENT_LOOKBACK_DAYS),
    )


def overdue_scores(
    frames: ChunkFrames, overdue_ids: pl.DataFrame, scorer: Scorer | None, as_of: dt.date
) -> pl.DataFrame:
    """The model's scores of the overdue accounts (empty without a model or overdue account)."""
    if scorer is None or not overdue_ids.height:
        return pl.DataFrame()
    features = behaviour_features(
        ChunkFrames(
            statements=frames.statements.join(overdue_ids, on="account_id", how="semi"),
            accounts=frames.accounts.join(overdue_ids, on="account_id", how="semi"),
            customers=frames.customers,
        ),
        as_of,
    )
    return scorer.score(features) if features.height else pl.DataFrame()


def treat_frames(
    frames: ChunkFrames,
    scorer: Scorer | None,
    policy: OverduePolicy,
    as_of: dt.date,
    broken: pl.DataFrame | None = None,
    pd_column: pl.DataFrame | None = None,
    ledger: LedgerPayments | None = None,
) -> pl.DataFrame:
    """Age, score and treat one set of frames (no store): the treatments with the inputs that
    explain them. ``pd_column`` (``account_id, pd``) stands in for the model when given;
    ``ledger``: the payments that decide days past due where they can (``overdue.aging``)."""
    snapshot = age_accounts(frames.statements, as_of, policy, ledger)
    overdue_ids = snapshot.filter(pl.col("days_past_due") > 0).select("account_id")
    scores = (
        pd_column if pd_column is not None else overdue_scores(frames, overdue_ids, scorer, as_of)
    )
    return explained_treatments(
        snapshot,
        frames.statements,
        scores,
        no_broken_promises() if broken is None else broken,
        policy,
        as_of,
    )


@dataclass(frozen=True)
class _Decided:
    chunk: TreatmentChunk
    treatments: pl.DataFrame  # with old and new limits
    planned: int  # treatments decided (some may be stored already by a concurrent run)


@dataclass(frozen=True)
class _Written:
    inserted: int
    queued: int
    actions: dict[str, int]  # inserted per limit action
    postings: int = 0


def treat_overdue(
    database_url: str,
    scorer: Scorer | None,
    *,
    as_of: dt.date,
    policy: OverduePolicy | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    out: Path | str | None = None,
    progress: ProgressCallback | None = None,
    model_version: str | None = None,
    timezone: str | None = None,
    experiment: Arms[OverduePolicy] | None = None,
) -> TreatResult:
    """Treat every account of the store overdue on ``as_of`` and not yet treated that day.

    ``scorer``: a model with ``.score(features)`` (a registry champion or ``load_model_dir``);
    ``None`` leaves the PD unknown (no rule passes on it: such accounts fall to the rules on
    days past due and promises, or the catch-all). ``out``: export the date's decisions.
    ``timezone``: the issuer's, the day its postings fall on (default ``CARDPILOT_TIMEZONE``).
    ``experiment``: a champion/challenger test's two policies (``policy`` is then its champion).
    """
    started = time.perf_counter()
    if experiment is not None:
        if experiment.starts_after(as_of):
            raise TreatError(
                f"test {experiment.name} starts on {experiment.start_on}: a treatment as of"
                f" {as_of} comes before it"
            )
        policy = experiment.champion
    policy = policy or load_overdue_policy()
    arms = experiment or Arms("", 0, policy, policy)
    db = open_store(database_url)
    try:
        for each in {id(p): p for p in (arms.champion, arms.challenger)}.values():
            require_currency(
                db,
                each.file.currency,
                error=TreatError,
                amounts="the overdue policy's amounts",
                fix="Treat with a policy in the accounts' currency (docs/overdue.md).",
                kind=OVERDUE,
            )
        model_version = model_version or model_version_of(scorer)
        result = TreatResult(str(uuid.uuid4()), as_of, policy.version, model_version)
        result.experiment = experiment.name if experiment is not None else None
        zone = timezone or get_settings().timezone
        steps = _steps(db, scorer, arms, result, default_composer(), zone)
        result.payments_known_through = known_through(db, zone)
        chunks = read_treatment_chunks(db, as_of, chunk_rows)
        clock = StageClock(DECIDE_STAGE)
        run_chunked(
            chunks,
            steps,
            clock=clock,
            total=account_count(db),
            progress=progress,
            kill_hook=KillHook.from_env(KILL_HOOK_ENV),
        )
        treatments = read_treatments(db, as_of)
        _summarise(treatments, result)
        audit_treat_run(db, result, treatments)
        if out is not None:
            try:
                write_treatments_export(
                    treatments_export_frame(read_treatments(db, as_of)), Path(out)
                )
            except ExportError as exc:
                raise TreatError(str(exc)) from None
            result.out = str(out)
    finally:
        db.dispose()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _treat_chunk(
    chunk: TreatmentChunk,
    scorer: Scorer | None,
    policy: OverduePolicy,
    result: TreatResult,
) -> pl.DataFrame:
    """One chunk's treatments under one policy, with old and new limits."""
    ledger = chunk_ledger(chunk, result.payments_known_through, result.as_of)
    treated = treat_frames(
        chunk_frames(chunk), scorer, policy, result.as_of, chunk.broken, ledger=ledger
    )
    if not treated.height:
        return treated
    old_limits = chunk.accounts.rename({"credit_limit_minor": "old_limit_minor"})
    return with_limits(treated, old_limits, policy.file.limit_cut_step_yuan)


def _treat_split(
    chunk: TreatmentChunk,
    scorer: Scorer | None,
    arms: Arms[OverduePolicy],
    result: TreatResult,
) -> pl.DataFrame:
    """A chunk's treatments under a test: every account as its arm's policy treats it (each
    policy treats the chunk; an account keeps its own arm's row)."""
    parts = []
    for arm in ARMS:
        treated = _treat_chunk(chunk, scorer, arms.policy(arm), result)
        if not treated.height:
            continue
        own = treated.with_columns(arm_column(treated["account_id"], arms.name, arms.share_bp))
        parts.append(own.filter(pl.col("arm") == arm))
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts, how="diagonal_relaxed")
        .sort("account_id")
        .with_columns(pl.lit(arms.name, dtype=pl.String).alias("experiment"))
    )


def _steps(
    db: Engine,
    scorer: Scorer | None,
    arms: Arms[OverduePolicy],
    result: TreatResult,
    composer: Composer,
    zone: str,
) -> ChunkSteps[TreatmentChunk, _Decided, _Written]:
    """The treatment's steps of the chunked loop: decide a chunk, write it, add it up.
    ``arms``: a test's two policies (outside a test, the one policy twice and no name)."""
    split = bool(arms.name)

    def decide(chunk: TreatmentChunk, clock: StageClock) -> _Decided | None:
        result.skipped += chunk.skipped
        result.on_plan += chunk.on_plan
        if not (chunk.accounts.height and chunk.statements.height):
            return None
        with clock.timing(DECIDE_STAGE):
            if split:
                treated = _treat_split(chunk, scorer, arms, result)
            else:
                treated = _treat_chunk(chunk, scorer, arms.champion, result)
            if not treated.height:
                return None
            return _Decided(chunk, treated, treated.height)

    def notices(stored: pl.DataFrame, decided: _Decided) -> list[Any]:
        if not split:
            return treatment_notices(stored, arms.champion)
        out = []
        for arm in ARMS:
            own = decided.treatments.filter(pl.col("arm") == arm).select("account_id")
            mine = stored.join(own, on="account_id", how="semi")
            out.extend(treatment_notices(mine, arms.policy(arm)) if mine.height else [])
        return out

    def write(decided: _Decided, before_commit: Callable[[], None]) -> _Written:
        chunk = decided.chunk
        records = treatment_records(decided.treatments, result.run_key, result.model_version)
        with db.begin() as conn:
            insert_treatments(conn, records)
            actions = apply_limit_actions(
                conn, result.run_key, chunk.first, chunk.last, result.as_of
            )
            charges = inserted_charges(conn, result.run_key, chunk.first, chunk.last)
            posted = insert_postings(conn, treatment_postings(charges, zone))
            stored = inserted_treatments(conn, result.run_key, chunk.first, chunk.last)
            queued = enqueue_on(conn, notices(stored, decided), composer)
            before_commit()
        return _Written(sum(actions.values()), queued, actions, posted)

    def collect(decided: _Decided, written: _Written) -> None:
        result.treated += written.inserted
        result.skipped += decided.planned - written.inserted
        result.notices += written.queued
        result.postings += written.postings
        result.frozen += written.actions.get("freeze", 0)
        result.cut += written.actions.get("cut", 0)

    return ChunkSteps(seen=lambda chunk: chunk.seen, decide=decide, write=write, collect=collect)


def audit_treat_run(db: Engine, result: TreatResult, treatments: pl.DataFrame) -> None:
    """One audit record for the run: its counts and a digest of the date's stored treatments
    (one record per run, not per treatment, as for the review: docs/audit.md)."""
    lists = [name for name, dtype in treatments.schema.items() if isinstance(dtype, pl.List)]
    flat = treatments.with_columns(
        pl.col(name).cast(pl.List(pl.String)).list.join(";") for name in lists
    )
    payload = {
        "run_key": result.run_key,
        "as_of": result.as_of.isoformat(),
        "policy_version": result.policy_version,
        "model_version": result.model_version,
        **({"experiment": result.experiment} if result.experiment else {}),
        "treated": result.treated,
        "skipped": result.skipped,
        "notices": result.notices,
        "frozen": result.frozen,
        "cut": result.cut,
        "treatments_on_date": treatments.height,
        "treatments_digest": digest_text(flat.write_csv()),
    }
    subject = f"overdue_run:{result.run_key}"
    record_audit(db, AuditEntry(default_actor(), "overdue.treat", subject, payload, after=payload))


def _summarise(frame: pl.DataFrame, result: TreatResult) -> None:
    """The date's figures (this run and any earlier one) from its stored treatments."""
    result.overdue_accounts = frame.height
    for column, target in (
        ("risk_segment", result.by_segment),
        ("treatment", result.by_treatment),
        ("limit_action", result.by_limit_action),
    ):
        for key, n in frame.group_by(column).len().sort(column).iter_rows():
            target[str(key)] = int(n)
    for key, mean in (
        frame.group_by("risk_segment").agg(pl.col("pd").mean()).sort("risk_segment").iter_rows()
    ):
        result.mean_pd_by_segment[str(key)] = None if mean is None else round(float(mean), 6)


# --------------------------------------------------------------------------- simulation

SIMULATED_COLUMNS = (
    "account_id",
    "bucket",
    "risk_segment",
    "treatment",
    "overdue_balance_minor",
    "late_fee_minor",
    "penalty_interest_minor",
    "fee_waived_minor",
    "contacts_per_week",
)


def simulate_treatments(
    database_url: str,
    scorer: Scorer | None,
    policies: list[tuple[str, OverduePolicy]],
    *,
    as_of: dt.date,
    contact_cost_minor: int,
    months: int = 1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Each overdue policy's treatments of the accounts overdue on ``as_of``, decided as
    ``treat`` decides them (``treat_frames``) but written nowhere, priced on the transition rates
    of the store's aging history (``simulation.overdue``): expected cures, roll-forwards and
    write-offs by treatment with intervals, fees charged and waived, contacts and their cost."""
    db = open_store(database_url)
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name, _ in policies}
    try:
        for name, policy in policies:
            require_currency(
                db,
                policy.file.currency,
                error=TreatError,
                amounts=f"the amounts of overdue policy {name}",
                fix="Simulate with policies in the accounts' currency (docs/simulation.md).",
                kind=OVERDUE,
            )
        transitions = observed_transitions(db)
        known = known_through(db, get_settings().timezone)

        def decide(chunk: TreatmentChunk, clock: StageClock) -> None:
            if not (chunk.accounts.height and chunk.statements.height):
                return None
            frames, scores = chunk_frames(chunk), None
            with clock.timing(DECIDE_STAGE):
                for name, policy in policies:
                    treated = treat_frames(
                        frames,
                        scorer,
                        policy,
                        as_of,
                        chunk.broken,
                        scores,
                        ledger=chunk_ledger(chunk, known, as_of),
                    )
                    scores = treated.select("account_id", "score", "pd", "model_version")
                    parts[name].append(treated.select(SIMULATED_COLUMNS))
            return None  # nothing to write

        steps: ChunkSteps[TreatmentChunk, None, None] = ChunkSteps(
            seen=lambda chunk: chunk.seen,
            decide=decide,
            write=lambda _planned, _commit: None,
            collect=lambda _planned, _written: None,
        )
        chunks = read_treatment_chunks(db, as_of, chunk_rows, skip_treated=False)
        total = account_count(db)
        run_chunked(chunks, steps, clock=StageClock(DECIDE_STAGE), total=total, progress=progress)
    finally:
        db.dispose()
    return _priced(policies, parts, transitions, as_of, scorer, contact_cost_minor, months)


def _priced(
    policies: list[tuple[str, OverduePolicy]],
    parts: dict[str, list[pl.DataFrame]],
    transitions: pl.DataFrame,
    as_of: dt.date,
    scorer: Scorer | None,
    contact_cost_minor: int,
    months: int,
) -> dict[str, Any]:
    """The simulated treatments priced on the observed rates (on the first policy's scale)."""
    aging = policies[0][1].file.aging
    limit = aging.write_off_after_days
    write_off = [b.code for b in aging.bucket_list if limit is not None and b.min_dpd > limit]
    rates = transition_rates(transitions, aging.scale().codes, write_off)
    priced = {
        name: outcome_rows(
            expected_outcomes(
                pl.concat(frames) if frames else pl.DataFrame(schema=_SIMULATED_SCHEMA),
                rates,
                contact_cost_minor=contact_cost_minor,
                months=months,
            )
        )
        for name, frames in parts.items()
    }
    return {
        "as_of": as_of.isoformat(),
        "currency": policies[0][1].file.currency,
        "model_version": model_version_of(scorer),
        "policies": [
            {"name": name, "policy_version": policy.version, "by_treatment": priced[name]}
            for name, policy in policies
        ],
        "observed": {
            "transitions": int(transitions["accounts"].sum()) if transitions.height else 0,
            "rates": rates.to_dicts(),
        },
    }


_SIMULATED_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "bucket": pl.String(),
    "risk_segment": pl.String(),
    "treatment": pl.String(),
    "overdue_balance_minor": pl.Int64(),
    "late_fee_minor": pl.Int64(),
    "penalty_interest_minor": pl.Int64(),
    "fee_waived_minor": pl.Int64(),
    "contacts_per_week": pl.Int32(),
}
