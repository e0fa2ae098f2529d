"""``cardpilot simulate``: a limit policy priced against another (or the current limits) before
it runs, on a store as of a date; writes no decision."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_for_url, parse_as_of
from cardpilot.cli.common import DATABASE_OPTION, database_url, policy_path
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.cli.overdue import overdue_app
from cardpilot.cli.progress import counted
from cardpilot.cli.review import load_scorer
from cardpilot.domain.money import format_major

SHOWN = ("accounts", "changed", "limit_added", "limit_removed", "exposure", "expected_loss")
SHOWN_MONEY = ("revenue", "cost", "net")


def _named(value: str | None, option: str) -> Any:
    from cardpilot.jobs.simulate import NamedPolicy
    from cardpilot.policy.catalogue import DEFAULT_NAME, LIMITS
    from cardpilot.policy.loading import PolicyError, load_policy

    path = policy_path(value, LIMITS)
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        raise fail(
            f"{option}: {exc}\nFix the field named above (cardpilot policy validate)."
        ) from None
    return NamedPolicy(value or DEFAULT_NAME, policy), path


def _assumptions(given: Path | None, policy_folder: Path | None) -> Any:
    from cardpilot.policy.assumptions import load_assumptions
    from cardpilot.policy.loading import PolicyError

    try:
        return load_assumptions(given or policy_folder)
    except PolicyError as exc:
        raise fail(str(exc)) from None


@app.command("simulate")
def simulate(
    policy: str | None = typer.Option(
        None,
        "--policy",
        help="The limit policy to simulate, by name or folder; default: the shipped one.",
    ),
    against: str | None = typer.Option(
        None,
        "--against",
        metavar="NAME|PATH",
        help="The policy to compare with, by name or folder; default: every current limit kept.",
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="The date the policies are simulated as of"
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder from `cardpilot model train --out DIR`."
    ),
    family: str = typer.Option(
        "scorecard", "--family", help="Registry model family whose champion scores."
    ),
    assumptions: Path | None = typer.Option(
        None,
        "--assumptions",
        help="simulation.yaml to price with; default: the one in --policy's folder.",
    ),
    label: str = typer.Option(
        "default_next_month", "--label", help="The outcome to back-test on, when the store has it."
    ),
    backtest: bool = typer.Option(True, "--backtest/--no-backtest", help="Back-test on outcomes."),
    out: Path | None = typer.Option(None, "--out", help="Write the HTML report."),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", help="Accounts per chunk."),
    engine: str = typer.Option("local", "--engine", help="local (in-process) or spark."),
    spark_master: str = typer.Option("local[2]", "--spark-master", help="Spark master URL."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Exposure, expected loss, revenue, cost and net of a policy against another, by grade,
    segment and in total; no decision is written."""
    from cardpilot.jobs.simulate import SimulationError, simulate_portfolio

    _check_engine(engine)
    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        raise fail(f"--out {out}: the report is HTML; use a .html file name")
    chosen, folder = _named(policy, "--policy")
    compared = _named(against, "--against")[0] if against is not None else None
    priced = _assumptions(assumptions, folder)
    scorer = load_scorer(model, family)
    url = database_url(database)
    spark = _spark_session(engine, spark_master)
    with counted(err_console, "simulate", transient=as_json) as on_progress:
        try:
            result = simulate_portfolio(
                url,
                scorer,
                chosen,
                priced,
                against=compared,
                as_of=parse_as_of(as_of),
                label=label if backtest else None,
                engine=engine,
                spark=spark,
                chunk_rows=chunk_rows,
                progress=on_progress,
            )
        except SimulationError as exc:
            raise fail(str(exc)) from None
    payload = result.as_json()
    if out is not None:
        from cardpilot.reports.simulation import write_simulation_report

        write_simulation_report(payload, out)
        payload["report"] = str(out)
    if as_json:
        print_json("simulate", payload)
        return
    _print(payload)
    if out is not None:
        console.print(f"report → {out}")


def _check_engine(engine: str) -> None:
    from cardpilot.engines.deciders import ENGINES

    if engine not in ENGINES:
        raise fail(f"--engine {engine!r}: use one of {', '.join(ENGINES)}")


def _spark_session(engine: str, spark_master: str) -> Any:
    """The Spark session the ``spark`` engine decides on; None for ``local``."""
    if engine != "spark":
        return None
    from cardpilot.engines.spark import local_spark_session

    return local_spark_session(spark_master)


def _print(payload: dict[str, Any]) -> None:
    policy, against = payload["policies"]
    console.print(
        f"simulation as of {payload['as_of']} · {payload['currency']} · model"
        f" {payload['model_version']} · assumptions {payload['assumptions_version']}"
    )
    named = [f"{f['name']}\n{f['policy_version'] or ''}" for f in (policy, against)]
    table = titled_table(
        "",
        *named,
        "difference",
        title="in total (money in major units)",
        right=(*named, "difference"),
    )
    for key in (*SHOWN, *SHOWN_MONEY):
        values = [policy["total"][key], against["total"][key], payload["difference"]["total"][key]]
        table.add_row(key, *(f"{v if isinstance(v, int) else Decimal(v):,}" for v in values))
    console.print(table)
    figures = ("net", "net (against)", "Δ net", "expected loss", "Δ expected loss")
    by_grade = titled_table(
        "grade",
        "net",
        "net (against)",
        "Δ net",
        "expected loss",
        "Δ expected loss",
        title="net and expected loss by grade",
        right=figures,
    )
    theirs = {r["grade"]: r for r in against["by_grade"]}
    change = {r["grade"]: r for r in payload["difference"]["by_grade"]}
    for row in policy["by_grade"]:
        g = row["grade"]
        other = theirs.get(g, {})
        delta = change.get(g, {})
        cells = (
            row["net"],
            other.get("net"),
            delta.get("net"),
            row["expected_loss"],
            delta.get("expected_loss"),
        )
        by_grade.add_row(g, *("—" if v is None else f"{Decimal(v):,}" for v in cells))
    console.print(by_grade)
    if "backtest" in payload:
        _print_backtest(payload["backtest"])


def _print_backtest(backtest: dict[str, Any]) -> None:
    table = titled_table(
        "grade",
        "accounts",
        "observed",
        "predicted",
        "interval (95 %)",
        "within",
        title=tr("back-test on {label} (policy {policy})").format(
            label=backtest["label"], policy=backtest["policy"]
        ),
        right=("grade", "accounts", "observed", "predicted", "interval (95 %)", "within"),
    )
    for r in backtest["grades"]:
        low, high = r["defaults_interval"]
        table.add_row(
            r["grade"],
            f"{r['accounts']:,}",
            f"{r['observed_defaults']:,}",
            f"{r['predicted_defaults']:,}",
            f"{low:,}–{high:,}",
            "yes" if r["defaults_within"] else f"no ({r['defaults_miss']:+,})",
        )
    console.print(table)
    console.print(backtest["verdict"])


def _overdue_policy(value: str | None) -> tuple[Any, Path | None]:
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.policy.catalogue import OVERDUE

    path = policy_path(value, OVERDUE)
    try:
        return load_overdue_policy(path), path
    except OverduePolicyError as exc:
        raise fail(str(exc)) from None


@overdue_app.command("simulate")
def simulate_overdue(
    as_of: str | None = typer.Option(None, "--as-of", help="The treatments' date"),
    policy: str | None = typer.Option(
        None, "--policy", help="The overdue policy, by name, folder or overdue.yaml."
    ),
    against: str | None = typer.Option(
        None, "--against", metavar="NAME|PATH", help="An overdue policy to compare with."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder from `cardpilot model train --out DIR`."
    ),
    family: str = typer.Option(
        "scorecard", "--family", help="Registry model family whose champion gives the PD."
    ),
    assumptions: Path | None = typer.Option(
        None, "--assumptions", help="simulation.yaml (contact cost, horizon); default: --policy's."
    ),
    chunk_rows: int = typer.Option(50_000, "--chunk-rows", help="Accounts per chunk."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Expected cures, roll-forwards and write-offs, fees charged and waived and contact costs
    of an overdue policy's treatments (and another's), on the store's aging history; writes
    nothing."""
    from cardpilot.jobs.overdue import TreatError, simulate_treatments

    chosen, path = _overdue_policy(policy)
    folder = path.parent if path is not None and path.is_file() else path
    priced = _assumptions(assumptions, folder)
    policies = [(policy or "default", chosen)]
    if against is not None:
        policies.append((against, _overdue_policy(against)[0]))
    scorer = load_scorer(model, family)
    url = database_url(database)
    day = as_of_for_url(as_of, url)
    with counted(err_console, "simulate", transient=as_json) as on_progress:
        try:
            payload = simulate_treatments(
                url,
                scorer,
                policies,
                as_of=day,
                contact_cost_minor=priced.message_cost.value_yuan,
                months=priced.horizon.months,
                chunk_rows=chunk_rows,
                progress=on_progress,
            )
        except TreatError as exc:
            raise fail(str(exc)) from None
    payload["assumptions_version"] = priced.version
    if as_json:
        print_json("overdue simulate", payload)
        return
    _print_overdue(payload)


def _print_overdue(payload: dict[str, Any]) -> None:
    console.print(
        f"overdue simulation as of {payload['as_of']} · rates from"
        f" {payload['observed']['transitions']:,} observed transitions · unrated: no transition"
        " observed from the account's bucket"
    )
    columns = (
        "segment",
        "treatment",
        "accounts",
        "cures",
        "roll forward",
        "write-off",
        "fees charged",
        "waived",
        "contact cost",
        "unrated",
    )
    for p in payload["policies"]:
        table = titled_table(
            *columns,
            title=tr("{name} ({version}): next cycle, expected").format(
                name=p["name"], version=p["policy_version"]
            ),
            right=columns,
        )
        for r in p["by_treatment"]:
            table.add_row(
                r["risk_segment"],
                r["treatment"],
                f"{r['accounts']:,}",
                f"{r['cure']:,} ({r['cure_low']:,}–{r['cure_high']:,})",
                f"{r['roll_forward']:,}",
                f"{r['write_off']:,}",
                format_major(r["fees_charged_minor"]),
                format_major(r["fees_waived_minor"]),
                format_major(r["contact_cost_minor"]),
                f"{r['unrated']:,}",
            )
        console.print(table)
