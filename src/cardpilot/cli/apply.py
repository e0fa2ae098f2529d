"""``cardpilot apply FILE|-``: decide credit applications, open the accounts accepted."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import parse_as_of
from cardpilot.cli.common import DATABASE_OPTION, LIMITS_POLICY_OPTION, open_engine, policy_path
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.cli.review import load_scorer
from cardpilot.domain.money import format_major


def load_policies(value: str | None) -> tuple[Any, Any]:
    """The limit policy and the customer policy (``customer.yaml``) of ``--policy``."""
    from cardpilot.policy.catalogue import LIMITS
    from cardpilot.policy.customer import load_customer_policy
    from cardpilot.policy.loading import PolicyError, load_policy

    path = policy_path(value, LIMITS)
    try:
        return load_policy(path), load_customer_policy(path)
    except PolicyError as exc:
        raise fail(f"{exc}\nFix the field named above (cardpilot policy validate).") from None


def _read(file: str) -> Any:
    from cardpilot.ingest.applications import read_applications
    from cardpilot.ingest.problems import SourceError

    try:
        if file != "-":
            return read_applications(Path(file))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stdin.csv"
            path.write_bytes(sys.stdin.buffer.read())
            return read_applications(path)
    except SourceError as exc:
        raise fail(str(exc)) from None


@app.command("apply")
def apply(
    file: str = typer.Argument(..., help="Applications file (CSV, generic layout), - for stdin."),
    policy: str | None = LIMITS_POLICY_OPTION,
    model: Path | None = typer.Option(
        None,
        "--model",
        help="Application model folder (`model train --family application --out DIR`);"
        " default: the registry's application-scorecard champion.",
    ),
    split: str = typer.Option(
        "all",
        "--split",
        help="all, or test: only the reference split's test rows (held out in training).",
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Decision date"),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide applications: grade, initial limit or decline, with reasons; open accounts."""
    from cardpilot.jobs.apply import ApplyError, apply_applications, held_out_rows

    limits, customer = load_policies(policy)
    if customer.applications is None:
        raise fail("the policy's customer.yaml has no applications section")
    read = _read(file)
    if read.rejects.height:
        first = read.rejects.row(0, named=True)
        raise fail(
            f"{file}: {read.rejects.height} rejected rows; first: row {first['row']}"
            f" {first['field']}: {first['reason']}"
        )
    if split not in ("all", "test"):
        raise fail(f"--split {split!r}: use all or test")
    scorer = load_scorer(model, customer.applications.model_family)
    db = open_engine(database)
    try:
        chosen = held_out_rows(read) if split == "test" else read
        result = apply_applications(
            db, chosen, limits, customer, scorer, source=file, as_of=parse_as_of(as_of)
        )
    except ApplyError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    summary = result.summary()
    if as_json:
        currency = limits.limits.currency
        print_json(
            "apply",
            {**summary, "currency": currency, "decisions": _decision_rows(result.decisions)},
        )
        return
    _print(summary, limits.limits.currency)


def _decision_rows(decisions: Any) -> list[dict[str, Any]]:
    rows = []
    for row in decisions.iter_rows(named=True):
        limit = row["initial_limit_minor"]
        cap = row["affordability_cap_minor"]
        rows.append(
            {
                "application_id": row["application_id"],
                "action": row["action"],
                "grade": row["grade"],
                "score": row["score"],
                "pd": row["pd"],
                "initial_limit": None if limit is None else format_major(limit),
                "affordability_cap": None if cap is None else format_major(cap),
                "account_id": row["account_id"],
                "customer_id": row["customer_id"],
                "reasons": [
                    {"code": c, "zh-CN": zh, "en": en}
                    for c, zh, en in zip(
                        row["reason_codes"],
                        row["reason_texts_zh"],
                        row["reason_texts_en"],
                        strict=True,
                    )
                ],
            }
        )
    return rows


def _print(summary: dict[str, Any], currency: str) -> None:
    err_console.print(
        f"{summary['applications']} applications: {summary['offered']} offered,"
        f" {summary['declined']} declined, {summary['referred']} referred;"
        f" {summary['accounts_opened']} accounts opened ({summary['stored']} new decisions)"
    )
    table = titled_table(
        "grade",
        "applicants",
        "approval",
        "bad rate",
        "bad rate offered",
        "limits",
        title=tr("By grade ({currency})").format(currency=currency),
        right=("applicants", "approval", "bad rate", "bad rate offered", "limits"),
    )
    for g in summary["grades"]:
        low, high = g["limit_min_minor"], g["limit_max_minor"]
        table.add_row(
            g["grade"],
            str(g["applicants"]),
            _pct(g["approval_rate"]),
            _pct(g["bad_rate"]),
            _pct(g["bad_rate_offered"]),
            "" if low is None else f"{format_major(low)}–{format_major(high)}",
        )
    console.print(table)
    console.print(
        f"policy {summary['policy_version']}, customer policy"
        f" {summary['customer_policy_version']}, model {summary['model_version']}"
    )


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"
