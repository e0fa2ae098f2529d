"""Score and decide one account now, with the code the review runs: the account read by the
review's own chunk reader (``store.one_account.review_chunk``), scored by
``batch.scoring.score_chunk`` and decided by the review's local engine
(``engines.deciders.limit_decider``, i.e. ``policy.limits.decide_limits``). A preview with a
scorecard reads the account as rows instead (``store.one_account.account_rows``) and scores
them as one row (``batch.account_scoring``, held equal to ``score_chunk`` by its tests), then
decides that row with the same ``decide_limits``: a frame's planning costs more than one
account's work. A committed decision
is written by the review's decision writer as a one-account review run (engine ``api``): the
decision, the limit history and account update (a decrease as a pending change after its notice
period), the watch after a large increase and the customer's notice in the outbox, in one
transaction; then its audit record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from cardpilot.audit.chain import AuditEntry
from cardpilot.batch.account_scoring import decision_frame, scored_account_row
from cardpilot.batch.pending_limits import apply_pending_limits
from cardpilot.batch.scoring import reason_codes_of, score_chunk, score_reason_texts
from cardpilot.domain.figures import rate_from_bp
from cardpilot.domain.money import format_major
from cardpilot.engines.deciders import limit_decider
from cardpilot.jobs.review import review_cycle_id
from cardpilot.notify.decision_notices import (
    decrease_effective_on,
    figure_columns,
    limit_change_outbox,
    limit_notice_context,
)
from cardpilot.policy.limits import decide_limits
from cardpilot.service.decision_batches import DecisionBatches
from cardpilot.service.problems import ApiError
from cardpilot.service.state import ServiceState
from cardpilot.store.account_chunks import EARLY_SUFFIX, NO_CYCLE
from cardpilot.store.audit import record_audit
from cardpilot.store.cases import account_on_hold, latest_decision
from cardpilot.store.decision_writer import SqlAlchemyDecisionWriter
from cardpilot.store.limit_decisions import DecisionChunk, decision_rows
from cardpilot.store.one_account import account_rows, review_chunk
from cardpilot.store.review_runs import finish_review_run, start_review_run
from cardpilot.watch.rules import watch_start

API_ENGINE = "api"


@dataclass(frozen=True)
class Scored:
    """One account's scored review row (``score_chunk``'s columns) and its currency."""

    table: pl.DataFrame
    currency: str


def _not_found(account_id: str) -> ApiError:
    return ApiError(404, f"account {account_id!r} is not in the store")


def _batches(state: ServiceState) -> DecisionBatches:
    """The worker's batches of previews (``service.decision_batches``), made on first use."""
    if state.decision_batches is None:
        with state.lock:
            if state.decision_batches is None:

                def decide(day: dt.date, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                    frame = decision_frame(rows, state.policy)
                    texts = state.score_texts()
                    return decide_limits(frame, state.policy, day, reason_texts=texts).to_dicts()

                state.decision_batches = DecisionBatches(decide)
    return state.decision_batches


def _not_reviewed(account_id: str) -> ApiError:
    return ApiError(409, f"account {account_id!r} is not of a reviewed status (closed?)")


def score_account(state: ServiceState, account_id: str, as_of: dt.date) -> Scored:
    """The account's features and score as the review computes them on ``as_of``."""
    scorer = state.require_scorer()
    chunk = review_chunk(state.db, account_id, as_of, NO_CYCLE)
    if chunk is None:
        raise _not_found(account_id)
    if not chunk.accounts.height:
        raise _not_reviewed(account_id)
    currency = str(chunk.frames.accounts["currency"][0])
    return Scored(score_chunk(chunk, scorer, as_of), currency)


def score_json(scored: Scored, as_of: dt.date) -> dict[str, Any]:
    row = scored.table.row(0, named=True)
    return {
        "account_id": row["account_id"],
        "as_of": as_of.isoformat(),
        "score": row["score"],
        "pd": row["pd"],
        "reason_codes": row.get("reason_codes") or [],
        "positive_codes": row.get("positive_codes") or [],
        "model_version": row.get("model_version"),
    }


def decide_scored(state: ServiceState, table: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``decide_limits`` on the scored rows, as the review's local engine calls it."""
    texts = score_reason_texts(reason_codes_of(table), {})
    decided = limit_decider("local", state.policy, as_of)(table, texts)
    return decided.with_columns(table["consecutive_overdue_months"].cast(pl.Int64))


def decision_json(row: dict[str, Any], currency: str) -> dict[str, Any]:
    """A decision row (``DECISION_SCHEMA``) for the API: money as decimal strings in major
    units beside the currency, reasons in zh-CN and en."""
    bp = row.get("increase_pct_bp")
    reasons = zip(
        row.get("reason_codes") or [],
        row.get("reason_texts_zh") or [],
        row.get("reason_texts_en") or [],
        strict=False,
    )
    as_of = row.get("as_of")
    return {
        "account_id": row["account_id"],
        "as_of": None if as_of is None else str(as_of)[:10],
        "action": row["action"],
        "currency": currency,
        "old_limit": format_major(int(row["old_limit_minor"])),
        "new_limit": format_major(int(row["new_limit_minor"])),
        "increase": rate_from_bp(bp),
        "grade": row.get("grade"),
        "segment": row.get("segment"),
        "score": row.get("score"),
        "pd": row.get("pd"),
        "due_for_review": bool(row.get("due_for_review")),
        "reasons": [{"code": c, "zh": z, "en": e} for c, z, e in reasons],
        "policy_version": row.get("policy_version"),
        "model_version": row.get("model_version"),
    }


def preview_decision(state: ServiceState, account_id: str, as_of: dt.date) -> dict[str, Any]:
    """The decision the review would make for the account on ``as_of``; nothing is written."""
    scorer = state.require_scorer()
    batches = _batches(state)
    arrival = batches.arrival()
    try:
        with state.db.connect() as conn:
            rows = account_rows(conn, account_id, as_of)
        if rows is None:
            raise _not_found(account_id)
        if not rows.reviewed:
            raise _not_reviewed(account_id)
        row = scored_account_row(rows, scorer, as_of)
        if row is None:  # not a scorecard, or statements only the plan orders: the chunk way
            arrival.done()
            scored = score_account(state, account_id, as_of)
            decided = decide_scored(state, scored.table, as_of).row(0, named=True)
            currency = scored.currency
        else:
            decided = batches.decide(as_of, row, arrival)
            currency = str(rows.account["currency"])
    finally:
        arrival.done()
    out = decision_json(decided, currency)
    on_hold = account_on_hold(state.db, account_id, as_of)
    return {"decision": out, "committed": False, "held_by_case": on_hold}


def commit_decision(
    state: ServiceState, account_id: str, as_of: dt.date, actor: str
) -> tuple[bool, dict[str, Any]]:
    """Decide the account now and store the decision as the review would (see the module).
    Returns whether it was written, and the decision; an account already decided in the
    cycle gets that decision back (the call is idempotent)."""
    scorer = state.require_scorer()
    cycle_id = review_cycle_id(as_of, state.policy.limits.review.cycle_months)
    # As a review does first: the limits in force on the day are those it decides from.
    apply_pending_limits(state.db, as_of, zone=state.settings.timezone, actor=actor)
    chunk = review_chunk(state.db, account_id, as_of, cycle_id)
    if chunk is None:
        raise _not_found(account_id)
    if not chunk.accounts.height:
        return False, _standing(state, account_id, chunk.skipped_within_cycle > 0, cycle_id)
    if account_on_hold(state.db, account_id, as_of):
        raise ApiError(409, f"account {account_id!r}: an analyst's override holds its limit")
    currency = str(chunk.frames.accounts["currency"][0])
    table = score_chunk(chunk, scorer, as_of)
    decided = decide_scored(state, table, as_of)
    early = chunk.accounts.filter(pl.col("early_review"))["account_id"]
    run_id = start_review_run(
        state.db,
        cycle_id=cycle_id,
        as_of=as_of,
        policy_version=state.policy.version,
        engine=API_ENGINE,
        model_version=decided["model_version"][0],
        interrupt_running=False,
    )
    try:
        written = _write(state, decided, table, run_id, cycle_id, early, account_id, as_of)
    except BaseException as exc:
        finish_review_run(state.db, run_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    finish_review_run(state.db, run_id, "finished")
    decision = decision_json(decided.row(0, named=True), currency)
    if not written:  # another call decided it in between: that decision stands
        return False, _standing(state, account_id, True, cycle_id)
    payload = {"run_id": run_id, "cycle_id": cycle_id, "decision": decision}
    before = {"credit_limit": decision["old_limit"]}
    after = {"credit_limit": decision["new_limit"], "action": decision["action"]}
    entry = AuditEntry(actor, "decision.commit", f"account:{account_id}", payload, before, after)
    record_audit(state.db, entry)
    return True, decision | {"run_id": run_id, "cycle_id": cycle_id}


def _write(
    state: ServiceState,
    decided: pl.DataFrame,
    table: pl.DataFrame,
    run_id: int,
    cycle_id: str,
    early: pl.Series,
    account_id: str,
    as_of: dt.date,
) -> bool:
    rows, sets = decision_rows(decided, run_id, cycle_id, early, cycle_id + EARLY_SUFFIX)
    chunk = DecisionChunk(
        rows=rows,
        text_sets=sets,
        run_id=run_id,
        first=account_id,
        last=account_id,
        effective=dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC),
        skipped=0,
        watch=watch_start(state.policy, as_of),
        decrease_effective_on=decrease_effective_on(as_of, state.notify_policy),
    )
    context = limit_notice_context(state.policy, figure_columns(table), state.notify_policy)
    written = SqlAlchemyDecisionWriter(state.db).write(
        chunk,
        notices=lambda changed: limit_change_outbox(state.db, changed, context),
        before_commit=lambda: None,
    )
    return written.inserted > 0


def _standing(
    state: ServiceState, account_id: str, within_cycle: bool, cycle_id: str
) -> dict[str, Any]:
    """The account's decision of the cycle, when it has one; 409 saying why not otherwise."""
    if not within_cycle:
        raise ApiError(
            409,
            f"account {account_id!r} has no statement since its last decision, or is not of a"
            " reviewed status: nothing new to decide on",
        )
    with state.db.connect() as conn:
        latest = latest_decision(conn, account_id)
    if latest is None:
        raise ApiError(409, f"account {account_id!r} was decided in {cycle_id} already")
    currency = state.policy.limits.currency
    return decision_json(latest, currency) | {"decision_id": latest["id"], "cycle_id": cycle_id}
