"""Score and decide one account now, with the code the review runs, on one row: the account
read as plain rows (``store.one_account.account_rows``; for a commit, the review's own chunk
reader ``store.one_account.review_chunk``, which also says whether the cycle may decide it),
its features and score computed for the one row (``batch.account_scoring``, held equal to
``batch.scoring.score_chunk`` by its tests) and decided by ``policy.limits.decide_limit_row``:
the review's plan, generated from the same policy, evaluated on one row in plain Python (held
equal to ``decide_limits`` by tests/policy/test_row_decisions.py). A frame's planning costs
milliseconds, one account's work microseconds. A model other than a scorecard is scored on the
one-account chunk by ``score_chunk``. A running champion/challenger test splits the decisions
as it splits the review (``service.experiment_split``).

A committed decision is written by the review's decision writer as a one-account review run
(engine ``api``): the decision, the limit history and account update (a decrease as a pending
change after its notice period), the watch after a large increase and the customer's notice in
the outbox, in one transaction; then its audit record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from cardpilot.audit.chain import AuditEntry
from cardpilot.batch.account_scoring import scored_account_row
from cardpilot.batch.pending_limits import apply_pending_limits
from cardpilot.batch.scoring import score_chunk
from cardpilot.domain.figures import rate_from_bp
from cardpilot.domain.money import format_major
from cardpilot.jobs.review import review_cycle_id
from cardpilot.notify.decision_notices import (
    decrease_effective_on,
    limit_change_outbox,
    limit_notice_context,
)
from cardpilot.notify.reasons import figure_features
from cardpilot.policy.limits import DECISION_SCHEMA, decide_limit_row
from cardpilot.service.experiment_split import arm_policy
from cardpilot.service.problems import ApiError
from cardpilot.service.state import ServiceState
from cardpilot.store.account_chunks import EARLY_SUFFIX, NO_CYCLE, AccountChunk
from cardpilot.store.audit import record_audit
from cardpilot.store.cases import account_on_hold, latest_decision
from cardpilot.store.decision_writer import SqlAlchemyDecisionWriter
from cardpilot.store.limit_decisions import DecisionChunk, decision_rows
from cardpilot.store.one_account import AccountRows, account_rows, review_chunk
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


def decide_row(state: ServiceState, row: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    """The decision row of one scored row (``score_chunk``'s columns), by the policy of the
    account's arm when a test splits the day's decisions, with ``experiment`` and ``arm``."""
    policy, split = arm_policy(state, str(row["account_id"]), as_of)
    codes = [*(row.get("reason_codes") or ()), *(row.get("positive_codes") or ())]
    texts = state.score_texts_with(codes)
    return decide_limit_row(row, policy, as_of, reason_texts=texts) | split


def decision_json(row: dict[str, Any], currency: str) -> dict[str, Any]:
    """A decision row (``DECISION_SCHEMA``) for the API: money as decimal strings in major
    units beside the currency, reasons in zh-CN and en; the test and arm that decided it."""
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
        "experiment": row.get("experiment"),
        "arm": row.get("arm"),
    }


def _scored_row(
    state: ServiceState, rows: AccountRows, as_of: dt.date, chunk: AccountChunk | None = None
) -> dict[str, Any]:
    """The account's scored row: on its rows, or (a model other than a scorecard, two
    statements on one date) on its one-account chunk (``chunk``, when it was read already)."""
    scorer = state.require_scorer()
    row = scored_account_row(rows, scorer, as_of)
    if row is not None:
        return row
    if chunk is not None:
        return score_chunk(chunk, scorer, as_of).row(0, named=True)
    account_id = str(rows.account["account_id"])
    return score_account(state, account_id, as_of).table.row(0, named=True)


def preview_decision(state: ServiceState, account_id: str, as_of: dt.date) -> dict[str, Any]:
    """The decision the review would make for the account on ``as_of``; nothing is written."""
    state.require_scorer()
    with state.db.connect() as conn:
        rows = account_rows(conn, account_id, as_of)
    if rows is None:
        raise _not_found(account_id)
    if not rows.reviewed:
        raise _not_reviewed(account_id)
    decided = decide_row(state, _scored_row(state, rows, as_of), as_of)
    out = decision_json(decided, str(rows.account["currency"]))
    on_hold = account_on_hold(state.db, account_id, as_of)
    return {"decision": out, "committed": False, "held_by_case": on_hold}


def _chunk_rows(chunk: AccountChunk) -> AccountRows:
    """A one-account chunk's account and statements as the rows ``account_rows`` gives."""
    return AccountRows(chunk.accounts.row(0, named=True), chunk.frames.statements.to_dicts())


def commit_decision(
    state: ServiceState, account_id: str, as_of: dt.date, actor: str
) -> tuple[bool, dict[str, Any]]:
    """Decide the account now and store the decision as the review would (see the module).
    Returns whether it was written, and the decision; an account already decided in the
    cycle gets that decision back (the call is idempotent)."""
    state.require_scorer()
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
    scored = _scored_row(state, _chunk_rows(chunk), as_of, chunk)
    decided = decide_row(state, scored, as_of)
    run_id = start_review_run(
        state.db,
        cycle_id=cycle_id,
        as_of=as_of,
        policy_version=state.policy.version,
        engine=API_ENGINE,
        model_version=decided["model_version"],
        interrupt_running=False,
    )
    try:
        written = _write(state, (scored, decided), run_id, cycle_id, chunk, as_of)
    except BaseException as exc:
        finish_review_run(state.db, run_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    finish_review_run(state.db, run_id, "finished")
    decision = decision_json(decided, currency)
    if not written:  # another call decided it in between: that decision stands
        return False, _standing(state, account_id, True, cycle_id)
    payload = {"run_id": run_id, "cycle_id": cycle_id, "decision": decision}
    before = {"credit_limit": decision["old_limit"]}
    after = {"credit_limit": decision["new_limit"], "action": decision["action"]}
    entry = AuditEntry(actor, "decision.commit", f"account:{account_id}", payload, before, after)
    record_audit(state.db, entry)
    return True, decision | {"run_id": run_id, "cycle_id": cycle_id}


# The decision row as the writer takes it: ``decide_limits``' columns, the overdue count the
# stored decision keeps, and a test's columns.
_WRITTEN: dict[str, pl.DataType] = {
    **DECISION_SCHEMA,
    "consecutive_overdue_months": pl.Int64(),
    "experiment": pl.String(),
    "arm": pl.String(),
}


def _write(
    state: ServiceState,
    scored_and_decided: tuple[dict[str, Any], dict[str, Any]],
    run_id: int,
    cycle_id: str,
    chunk: AccountChunk,
    as_of: dt.date,
) -> bool:
    scored, decided = scored_and_decided
    written_columns = {
        k: v for k, v in _WRITTEN.items() if k not in ("experiment", "arm") or decided[k]
    }
    row = decided | {"consecutive_overdue_months": scored.get("consecutive_overdue_months")}
    frame = pl.DataFrame([[row[k] for k in written_columns]], written_columns, orient="row")
    early = chunk.accounts.filter(pl.col("early_review"))["account_id"]
    rows, sets = decision_rows(frame, run_id, cycle_id, early, cycle_id + EARLY_SUFFIX)
    account_id = str(decided["account_id"])
    decision_chunk = DecisionChunk(
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
    # The figures the customer's notice shows beside its reasons (a null one: none shown).
    shown = ["account_id", *sorted(figure_features() & set(scored))]
    table = pl.DataFrame([{k: scored[k] for k in shown}])
    context = limit_notice_context(state.policy, table, state.notify_policy)
    written = SqlAlchemyDecisionWriter(state.db).write(
        decision_chunk,
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
