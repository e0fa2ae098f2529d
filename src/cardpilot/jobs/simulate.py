"""A limit policy priced before it runs, against another or against the current limits:
``cardpilot simulate``. Writes nothing to the store.

    store ─(account chunks)─► features ─► score ─► decide_limits (each policy) ─► figures

The accounts are read, scored and decided exactly as the review reads, scores and decides them
(``store.review_backend``, ``batch.scoring.score_chunk``, ``engines.deciders``: in process or
on Spark, the one ``decide_limits`` either way), every account whatever its review cycle;
accounts an analyst's override holds are left out, as the review leaves them. The score's
reasons are the one thing left out: no figure reads a reason, and the reasons with a direction
cost more than the features, so the decisions carry the policy's own reasons only (their
actions and limits are the review's). Each chunk is scored once and decided under both
policies; its per-account
figures (``simulation.economics``) are added up per (grade, segment) and handed on, so memory
stays bounded by the chunk. With an outcome in the store (``label``), the simulation's
predictions at the current limits are set beside what happened (``simulation.backtest``).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.batch.currency import require_currency
from cardpilot.batch.dates import EmptyStoreError, default_as_of
from cardpilot.batch.loop import ChunkSteps, ProgressCallback, StageClock, run_chunked
from cardpilot.batch.scoring import Scorer, model_version_of, score_chunk
from cardpilot.domain.money import BP
from cardpilot.engines.deciders import ENGINES, LimitDecider, limit_decider
from cardpilot.policy.assumptions import SimulationAssumptions
from cardpilot.policy.schema import Policy
from cardpilot.simulation.backtest import (
    backtest_rows,
    chunk_sums,
    in_account_order,
    outcomes_within,
    verdict,
)
from cardpilot.simulation.economics import account_figures, cell_sums, kept
from cardpilot.simulation.figures import (
    PolicyFigures,
    breakdown,
    breakdown_json,
    combine,
    difference,
)
from cardpilot.store.account_chunks import DEFAULT_CHUNK_ROWS, NO_CYCLE, AccountChunk
from cardpilot.store.cases import accounts_on_hold
from cardpilot.store.db import is_sqlite, make_engine
from cardpilot.store.performance_labels import label_names, read_label
from cardpilot.store.portfolio_facts import account_count
from cardpilot.store.review_backend import read_account_chunks

STAGES = ("read", "features_score", "decide", "figures")
DEFAULT_LABEL = "default_next_month"
CURRENT = "current limits"


class SimulationError(ValueError):
    """The simulation cannot run as asked: says what is wrong and what to do."""


@dataclass(frozen=True)
class NamedPolicy:
    name: str  # as the user named it (a policy name or a path)
    policy: Policy


@dataclass
class SimulationResult:
    as_of: dt.date
    currency: str
    model_version: str | None
    assumptions: SimulationAssumptions
    policy: PolicyFigures
    against: PolicyFigures
    label: str | None = None
    backtest: list[dict[str, Any]] = field(default_factory=list)
    engine: str = "local"  # where the decisions were made
    held: int = 0  # accounts an analyst's override holds: not simulated
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)  # this process's

    def as_json(self) -> dict[str, Any]:
        """Counts as integers, money as exact decimal strings in major units of ``currency``."""
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "model_version": self.model_version,
            "engine": self.engine,
            "assumptions_version": self.assumptions.version,
            "assumptions": self.assumptions.shown(),
            "held": self.held,
            "policies": [
                {
                    "role": f.role,
                    "name": f.name,
                    "policy_version": f.policy_version,
                    **breakdown_json(breakdown(f)),
                }
                for f in (self.policy, self.against)
            ],
            "difference": breakdown_json(difference(self.policy, self.against)),
            "seconds": self.seconds,
            "stage_seconds": self.stage_seconds,
            "stage_cpu_seconds": self.stage_cpu_seconds,
        }
        if self.label is not None:
            out["backtest"] = {
                "label": self.label,
                "policy": self.policy.name,
                "grades": self.backtest,
                "verdict": verdict(self.backtest),
            }
        return out


@dataclass
class _Parts:
    policy: list[pl.DataFrame] = field(default_factory=list)
    against: list[pl.DataFrame] = field(default_factory=list)
    backtest: list[pl.DataFrame] = field(default_factory=list)


@dataclass(frozen=True)
class _ChunkFigures:
    policy: pl.DataFrame
    against: pl.DataFrame
    backtest: pl.DataFrame | None


def simulate_portfolio(
    database_url: str,
    scorer: Scorer,
    policy: NamedPolicy,
    assumptions: SimulationAssumptions,
    *,
    against: NamedPolicy | None = None,
    as_of: dt.date | None = None,
    label: str | None = DEFAULT_LABEL,
    engine: str = "local",
    spark: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Simulate ``policy`` against ``against`` (default: every current limit kept) on the store
    at ``database_url`` as of ``as_of`` (default: the day after the latest statement cycle).
    ``label``: the outcome to back-test on, when the store holds it (None: no back-test).
    ``engine``: where the decisions are made, ``local`` or ``spark`` (``spark``: a session,
    default a local one); the scores and the figures are worked out in this process."""
    if engine not in ENGINES:
        raise SimulationError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    # The chunk reader runs on its own thread (cardpilot.batch.prefetch).
    connect_args = {"check_same_thread": False} if is_sqlite(database_url) else {}
    db = make_engine(database_url, connect_args=connect_args)
    try:
        as_of = _check(db, policy, against, assumptions, as_of)
        deciders = [limit_decider(engine, p.policy, as_of, spark) for p in (policy, against) if p]
        labels = None
        if label and label in label_names(db):
            labels = in_account_order(read_label(db, label))
        on_hold = sorted(accounts_on_hold(db, as_of))
        clock = StageClock(*STAGES)
        parts = _Parts()
        total = account_count(db)
        chunks = read_account_chunks(
            db, as_of=as_of, cycle_id=NO_CYCLE, chunk_rows=chunk_rows, total=total
        )
        result = _result(policy, against, assumptions, scorer, as_of)
        result.engine = engine
        steps = _steps(result, scorer, deciders, labels, on_hold, parts)
        run_chunked(chunks, steps, clock=clock, total=total, progress=progress)
    finally:
        db.dispose()
    result.policy = _with_cells(result.policy, parts.policy)
    result.against = _with_cells(result.against, parts.against)
    if labels is not None:
        result.label = label
        result.backtest = backtest_rows(combine_backtest(parts.backtest), _grades(policy))
    result.stage_seconds = clock.rounded()
    result.stage_cpu_seconds = clock.rounded_cpu()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _check(
    db: Engine,
    policy: NamedPolicy,
    against: NamedPolicy | None,
    assumptions: SimulationAssumptions,
    as_of: dt.date | None,
) -> dt.date:
    """Every policy and the assumptions in the accounts' currency; the as-of date."""
    fix = "Simulate with policies in the accounts' currency (docs/simulation.md)."
    for named in (policy, against):
        if named is not None:
            amounts = f"the amounts of policy {named.name}"
            currency = named.policy.limits.currency
            require_currency(db, currency, error=SimulationError, amounts=amounts, fix=fix)
    if assumptions.currency != policy.policy.limits.currency:
        raise SimulationError(
            f"the assumptions ({assumptions.version}) are in {assumptions.currency} but policy"
            f" {policy.name} is in {policy.policy.limits.currency}; pass --assumptions FILE in"
            f" {policy.policy.limits.currency}"
        )
    try:
        return as_of or default_as_of(db)
    except EmptyStoreError as exc:
        raise SimulationError(str(exc)) from None


def _grades(named: NamedPolicy | None) -> tuple[str, ...]:
    return tuple(g.code for g in named.policy.limits.grades) if named else ()


def _segments(named: NamedPolicy | None) -> tuple[str, ...]:
    return tuple(s.code for s in named.policy.limits.segments) if named else ()


def _result(
    policy: NamedPolicy,
    against: NamedPolicy | None,
    assumptions: SimulationAssumptions,
    scorer: Scorer,
    as_of: dt.date,
) -> SimulationResult:
    empty = combine([])
    base = against or policy  # the current limits are graded by the policy simulated

    def figures(role: str, named: NamedPolicy | None) -> PolicyFigures:
        name = named.name if named else CURRENT
        version = named.policy.version if named else None
        return PolicyFigures(
            role, name, version, empty, _grades(named or base), _segments(named or base)
        )

    return SimulationResult(
        as_of=as_of,
        currency=policy.policy.limits.currency,
        model_version=model_version_of(scorer),
        assumptions=assumptions,
        policy=figures("policy", policy),
        against=figures("against", against),
    )


def _with_cells(figures: PolicyFigures, parts: list[pl.DataFrame]) -> PolicyFigures:
    return PolicyFigures(
        figures.role,
        figures.name,
        figures.policy_version,
        combine(parts),
        figures.grade_order,
        figures.segment_order,
    )


def combine_backtest(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()


def _steps(
    result: SimulationResult,
    scorer: Scorer,
    deciders: list[LimitDecider],
    labels: pl.DataFrame | None,
    on_hold: list[str],
    parts: _Parts,
) -> ChunkSteps[AccountChunk, _ChunkFigures, _ChunkFigures]:
    assumptions = result.assumptions

    def decide_chunk(chunk: AccountChunk, clock: StageClock) -> _ChunkFigures | None:
        if not chunk.accounts.height:
            return None
        with clock.timing("features_score"):
            # No figure reads a reason: the score's reasons are not worked out (the decisions
            # state only the policy's own), and the actions and limits are the review's.
            table = score_chunk(chunk, scorer, result.as_of, reasons=False)
            if on_hold:
                scored = table.height
                table = table.filter(~pl.col("account_id").is_in(on_hold))
                result.held += scored - table.height
            if not table.height:
                return None
        with clock.timing("decide"):
            decided = [decide(table, {}) for decide in deciders]
        with clock.timing("figures"):
            mine = account_figures(decided[0], table, assumptions)
            current = account_figures(kept(decided[0]), table, assumptions)
            theirs = account_figures(decided[1], table, assumptions) if len(decided) > 1 else None
            tested = None
            if labels is not None:
                tested = chunk_sums(_with_outcomes(current, decided[0], labels, assumptions))
        return _ChunkFigures(
            cell_sums(mine), cell_sums(theirs if theirs is not None else current), tested
        )

    def nothing_written(planned: _ChunkFigures, _before_commit: Any) -> _ChunkFigures:
        return planned  # a simulation writes nothing: the chunk's sums go straight on

    def collect(planned: _ChunkFigures, _written: _ChunkFigures) -> None:
        parts.policy.append(planned.policy)
        parts.against.append(planned.against)
        if planned.backtest is not None:
            parts.backtest.append(planned.backtest)

    return ChunkSteps(lambda chunk: chunk.seen, decide_chunk, nothing_written, collect)


def _with_outcomes(
    current: pl.DataFrame,
    decided: pl.DataFrame,
    labels: pl.DataFrame,
    assumptions: SimulationAssumptions,
) -> pl.DataFrame:
    """The current limits' figures with each account's PD, outcome and loss if it defaults."""
    lgd = assumptions.lgd.bp / BP
    return (
        current.select("account_id", "grade", "exposure", "expected_loss")
        .with_columns(
            decided["pd"],
            (pl.col("exposure") * lgd)
            .round(0, mode="half_to_even")
            .cast(pl.Int64)
            .alias("loss_if_default"),
        )
        .join(
            outcomes_within(labels, current["account_id"]),
            on="account_id",
            how="left",
            maintain_order="left",
        )
    )
