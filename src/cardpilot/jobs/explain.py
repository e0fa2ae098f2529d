"""``cardpilot review explain ACCOUNT``: the whole explanation of an account's latest limit
decision (PIPL art. 24: an automated decision is explained on request).

The stored decision (score, PD, grade, segment, action, reasons, policy and model versions),
the policy rule of its grade and segment and the policy reasons it carries, and, from the
scorecard the review used, the points each characteristic earned against the best attainable.
The account is scored again exactly as the review scored it (``batch.scoring.score_chunk`` on
the statements before the decision's as-of date, at the limit it had then), so the explanation
says whether the recomputed score matches the stored one. For a case's override, the case and
the explanation of the review decision it overrode. A decrease also says when it takes effect
(its notice period) and whether it has been applied or superseded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from cardpilot.batch.scoring import Scorer, model_version_of, score_chunk
from cardpilot.domain.money import format_major
from cardpilot.policy.schema import Policy
from cardpilot.scoring.contributions import point_contributions
from cardpilot.scoring.scorecard import ScorecardModel
from cardpilot.store.cases import account_facts, case_of_override, decision_by_id, latest_decision
from cardpilot.store.one_account import account_chunk
from cardpilot.store.pending_limits import pending_of_decision


class ExplainError(ValueError):
    """The account cannot be explained: says why and what to do."""


def explain_account(db: Engine, account_id: str, scorer: Scorer, policy: Policy) -> dict[str, Any]:
    """The explanation of ``account_id``'s latest limit decision (see the module)."""
    with db.connect() as conn:
        facts = account_facts(conn, account_id)
        decision = latest_decision(conn, account_id)
        case = None
        if decision is not None and decision["source"] == "case":
            case = case_of_override(conn, int(decision["id"]))
        overridden = decision_by_id(conn, case.decision_id) if case is not None else None
    if facts is None:
        raise ExplainError(f"account {account_id!r} is not in the store")
    if decision is None:
        raise ExplainError(f"account {account_id!r} has no limit decision yet; run a review")
    if case is not None and overridden is not None:
        return {
            "account_id": account_id,
            "currency": facts.currency,
            "decision": _decision(decision),
            "case": case.as_json(),
            "overrode": explain_decision(db, overridden, scorer, policy, facts.currency),
        }
    return explain_decision(db, decision, scorer, policy, facts.currency)


def _decision(decision: dict[str, Any]) -> dict[str, Any]:
    bp = decision["increase_pct_bp"]
    return {
        "id": decision["id"],
        "source": decision["source"],
        "cycle_id": decision["cycle_id"],
        "as_of": decision["as_of"].isoformat(),
        "action": decision["action"],
        "old_limit": format_major(int(decision["old_limit_minor"])),
        "new_limit": format_major(int(decision["new_limit_minor"])),
        "increase_pct": None if bp is None else bp / 100,
        "grade": decision["grade"],
        "segment": decision["segment"],
        "score": decision["score"],
        "pd": decision["pd"],
        "policy_version": decision["policy_version"],
        "model_version": decision["model_version"],
    }


def explain_decision(
    db: Engine, decision: dict[str, Any], scorer: Scorer, policy: Policy, currency: str
) -> dict[str, Any]:
    """The explanation of one stored review decision."""
    reasons = [
        {"code": c, "text_zh": z, "text_en": e}
        for c, z, e in zip(
            decision["reason_codes"],
            decision["reason_texts_zh"],
            decision["reason_texts_en"],
            strict=False,
        )
    ]
    return {
        "account_id": decision["account_id"],
        "currency": currency,
        "decision": _decision(decision),
        "rule": _rule(decision, policy),
        "reasons": reasons,
        "pending_change": _pending_change(db, int(decision["id"])),
        **_scored_again(db, decision, scorer),
        "versions": {
            "decision_policy": decision["policy_version"],
            "decision_model": decision["model_version"],
            "explained_with_policy": policy.version,
            "explained_with_model": model_version_of(scorer),
            "policy_matches": policy.version == decision["policy_version"],
            "model_matches": model_version_of(scorer) == decision["model_version"],
        },
    }


def _pending_change(db: Engine, decision_id: int) -> dict[str, Any] | None:
    """A decrease's wait for its notice period: when it takes effect, and whether it has."""
    with db.connect() as conn:
        pending = pending_of_decision(conn, decision_id)
    if pending is None:
        return None
    return {
        "effective_on": _iso(pending["effective_on"]),
        "status": pending["status"],
        "applied_on": _iso(pending["applied_on"]),
        "superseded_by": pending["superseded_by"],
    }


def _iso(day: Any) -> str | None:
    return None if day is None else str(day)[:10]


def _rule(decision: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """The policy rule of the decision's grade and segment, and the policy reasons it gave."""
    grades = {g.code: g for g in policy.limits.grades}
    segments = {s.code: s for s in policy.limits.segments}
    grade = grades.get(decision["grade"] or "")
    segment = segments.get(decision["segment"] or "")
    catalog = policy.reasons.reasons
    return {
        "grade": None if grade is None else grade.model_dump(mode="json", by_alias=True),
        "segment": None if segment is None else segment.model_dump(mode="json", by_alias=True),
        "applied": [
            {"code": c, "text_zh": catalog[c].zh_cn, "text_en": catalog[c].en}
            for c in decision["reason_codes"]
            if c in catalog
        ],
    }


def _scored_again(db: Engine, decision: dict[str, Any], scorer: Scorer) -> dict[str, Any]:
    chunk = account_chunk(
        db,
        decision["account_id"],
        decision["as_of"],
        credit_limit_minor=int(decision["old_limit_minor"]),
    )
    if chunk is None:
        return {"scored_again": None, "contributions": None}
    table = score_chunk(chunk, scorer, decision["as_of"])
    score = table["score"][0]
    contributions = None
    if isinstance(scorer, ScorecardModel) and score is not None:
        contributions = [c.as_json() for c in point_contributions(scorer, table)]
    return {
        "scored_again": {
            "score": score,
            "pd": table["pd"][0],
            "matches_stored": score == decision["score"],
        },
        "contributions": contributions,
    }
