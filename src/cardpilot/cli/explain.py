"""``cardpilot review explain ACCOUNT``: the whole explanation of one account's latest limit
decision: score, PD, grade, the rule that applied, reasons with their points, versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cardpilot.cli.common import DATABASE_OPTION, open_engine, policy_path
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table
from cardpilot.cli.review import POLICY_OPTION, load_scorer, review_app


@review_app.command("explain")
def explain(
    account: str = typer.Argument(..., help="Account id."),
    model: Path | None = typer.Option(
        None, "--model", help="The model folder the review used (default: the champion)."
    ),
    family: str = typer.Option("scorecard", "--family", help="Registry model family."),
    policy: str | None = POLICY_OPTION,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Explain the account's latest limit decision (a review's, or a case's override)."""
    from cardpilot.jobs.explain import ExplainError, explain_account
    from cardpilot.policy.catalogue import LIMITS
    from cardpilot.policy.loading import PolicyError, load_policy

    try:
        chosen = load_policy(policy_path(policy, LIMITS))
    except PolicyError as exc:
        raise fail(str(exc)) from exc
    scorer = load_scorer(model, family)
    db = open_engine(database)
    try:
        explanation = explain_account(db, account, scorer, chosen)
    except ExplainError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("review explain", explanation)
        return
    print_explanation(explanation)


def _yuan(value: str, currency: str) -> str:
    return f"{currency} {value}"


def print_explanation(explanation: dict[str, Any], heading: str = "") -> None:
    """The explanation as text: the decision, the rule, the reasons and the points."""
    d = explanation["decision"]
    currency = explanation["currency"]
    console.print(
        f"[bold]{heading}account {explanation['account_id']}[/] · decision {d['id']}"
        f" ({d['source']}, {d['cycle_id']}, as of {d['as_of']})"
    )
    change = f"{_yuan(d['old_limit'], currency)} → {_yuan(d['new_limit'], currency)}"
    pct = f" (+{d['increase_pct']:g} %)" if d["increase_pct"] else ""
    console.print(f"  action {d['action']}: {change}{pct}")
    pending = explanation.get("pending_change")
    if pending:
        console.print(
            f"  takes effect {pending['effective_on']} (after its notice period):"
            f" {pending['status']}"
        )
    if "case" in explanation:
        case = explanation["case"]
        console.print(
            f"  human review: case {case['id']} {case['outcome']} by {case['decided_by']}"
            f" — {case['decision_reason']}; held until {case['hold_until']}"
        )
        print_explanation(explanation["overrode"], heading="overrode: ")
        return
    pd = "—" if d["pd"] is None else f"{d['pd']:.2%}"
    console.print(f"  score {d['score']} · PD {pd} · grade {d['grade']} · segment {d['segment']}")
    _print_rule(explanation["rule"])
    for r in explanation["reasons"]:
        console.print(f"  reason {r['code']}: {r['text_zh']} / {r['text_en']}")
    again = explanation.get("scored_again")
    if again is not None:
        same = "matches the stored score" if again["matches_stored"] else "[red]differs[/]"
        console.print(f"  scored again on the same statements: {again['score']} ({same})")
    if explanation.get("contributions"):
        _print_contributions(explanation["contributions"])
    v = explanation["versions"]
    console.print(f"  policy {v['decision_policy']} · model {v['decision_model']}")
    if not (v["policy_matches"] and v["model_matches"]):
        console.print(
            f"  [yellow]explained with policy {v['explained_with_policy']} and model"
            f" {v['explained_with_model']}, not the decision's own[/]"
        )


def _print_rule(rule: dict[str, Any]) -> None:
    grade, segment = rule["grade"], rule["segment"]
    if grade is not None:
        bounds = grade.get("score") or grade.get("pd") or {}
        band = f"{'score' if grade.get('score') else 'PD'} {bounds.get('min')}–{bounds.get('max')}"
        increase = grade.get("increase_pct")
        allowed = f"increase {increase['min']}–{increase['max']} %" if increase else "no increase"
        console.print(
            f"  rule: grade {grade['label']['zh-CN']} / {grade['label']['en']} ({band});"
            f" {allowed}; decrease {grade['decrease'].get('cut_pct')} % when"
            f" {condition_text(grade['decrease'].get('when'))}"
        )
    if segment is not None:
        console.print(f"  segment {segment['label']['en']}: increase {segment.get('increase')}")
    for r in rule["applied"]:
        console.print(f"  policy reason {r['code']}: {r['text_zh']} / {r['text_en']}")


def condition_text(condition: Any) -> str:
    """A policy condition (as the policy file writes it) in one line: ``a >= 1 or b >= 1``."""
    if not isinstance(condition, dict):
        return str(condition)
    for key, joiner in (("any", " or "), ("all", " and ")):
        if condition.get(key):
            return "(" + joiner.join(condition_text(c) for c in condition[key]) + ")"
    if condition.get("not") is not None:
        return f"not {condition_text(condition['not'])}"
    value = condition.get("value")
    if value is None and condition.get("value_yuan") is not None:
        value = f"{condition['value_yuan']} yuan"
    return f"{condition.get('feature')} {condition.get('op')} {value}"


def _print_contributions(contributions: list[dict[str, Any]]) -> None:
    """The characteristics that lost points, most first; the rest in one line."""
    table = titled_table("characteristic", "value", "bin", "points", "best", "lost")
    for c in contributions:
        if c["lost"] <= 0:
            continue
        shown = _value_text(c["characteristic"], c["value"])
        table.add_row(
            c["text_en"], shown, c["bin"], *(str(c[k]) for k in ("points", "best", "lost"))
        )
    console.print(table)
    full = [c for c in contributions if c["lost"] <= 0]
    total = sum(c["points"] for c in contributions)
    console.print(
        f"  {len(full)} more characteristics earned their best ({sum(c['points'] for c in full)}"
        f" points); {total} points in all"
    )


def _value_text(characteristic: str, value: Any) -> str:
    if value is None:
        return "missing"
    if characteristic.endswith("_minor") and isinstance(value, int | float):
        return f"{value / 100:,.2f}"  # money in minor units, shown in major units
    return f"{value:.4g}" if isinstance(value, float) else str(value)
