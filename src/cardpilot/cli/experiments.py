"""``cardpilot experiments create|list|report|stop|promote``: champion/challenger tests on live
accounts (``review --experiment``, ``overdue treat --experiment`` split their runs by one)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_or_today
from cardpilot.cli.common import DATABASE_OPTION, database_url, open_engine
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table

experiments_app = typer.Typer(
    help="Champion/challenger tests: a challenger policy on a share of the accounts.",
    no_args_is_help=True,
)
app.add_typer(experiments_app, name="experiments")

NAME_ARGUMENT = typer.Argument(..., help="The test's name.")


def _share_bp(value: str, option: str) -> int:
    """A share given as a decimal (0.2) in basis points; an error naming the option."""
    try:
        bp = Decimal(value.strip()) * 10_000
    except InvalidOperation:
        raise fail(f"{option} {value!r}: give a decimal such as 0.2") from None
    if bp != bp.to_integral_value():
        raise fail(f"{option} {value!r}: give at most four decimals") from None
    return int(bp)


@experiments_app.command("create")
def create(
    name: str = NAME_ARGUMENT,
    champion: str = typer.Option(
        ..., "--champion", help="The champion policy, by name or path as --policy takes it."
    ),
    challenger: str = typer.Option(
        ..., "--challenger", help="The challenger policy, by name or path as --policy takes it."
    ),
    share: str = typer.Option("0.1", "--share", help="The challenger's share of the accounts."),
    kind: str = typer.Option("limits", "--kind", help="limits (the review) or overdue."),
    start: str | None = typer.Option(None, "--start", help="The test's start date; default today."),
    alpha: str = typer.Option("0.05", "--alpha", help="Two-sided significance level."),
    power: str = typer.Option("0.8", "--power", help="Power at the minimum detectable effect."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a test: its two policies, the challenger's share, its start (audited)."""
    from cardpilot.domain.experiments import ExperimentSpec, ExperimentSpecError
    from cardpilot.jobs.experiments import ExperimentError, create_experiment

    try:
        spec = ExperimentSpec(
            name=name,
            kind=kind,
            champion=champion,
            challenger=challenger,
            share_bp=_share_bp(share, "--share"),
            start_on=as_of_or_today(start),
            alpha_bp=_share_bp(alpha, "--alpha"),
            power_bp=_share_bp(power, "--power"),
        )
        stored = create_experiment(database_url(database), spec)
    except (ExperimentSpecError, ExperimentError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json("experiments create", stored.as_json())
        return
    console.print(
        tr(
            "test {name} created: {challenger} on {share} of the accounts, {champion} on the rest"
        ).format(
            name=stored.name,
            challenger=stored.challenger_version,
            share=f"{stored.share_bp / 100:g} %",
            champion=stored.champion_version,
        )
    )


@experiments_app.command("list")
def list_(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The tests, the newest first."""
    from cardpilot.store.experiments import list_experiments

    db = open_engine(database)
    try:
        tests = list_experiments(db)
    finally:
        db.dispose()
    if as_json:
        print_json("experiments list", {"experiments": [t.as_json() for t in tests]})
        return
    table = titled_table("test", "kind", "status", "champion", "challenger", "share", "start")
    for t in tests:
        table.add_row(
            t.name,
            t.kind,
            _status(t.status),
            t.champion_version,
            t.challenger_version,
            f"{t.share_bp / 100:g} %",
            str(t.start_on),
        )
    console.print(table)


def _changed(name: str, database: str | None, action: str, as_json: bool) -> None:
    from cardpilot.jobs.experiments import ExperimentError, promote, stop

    db = open_engine(database)
    try:
        stored = (stop if action == "stop" else promote)(db, name)
    except ExperimentError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json(f"experiments {action}", stored.as_json())
        return
    console.print(tr("test {name}: {status}").format(name=name, status=_status(stored.status)))


def _status(status: str) -> str:
    named = {"running": tr("running"), "stopped": tr("stopped"), "promoted": tr("promoted")}
    return named.get(status, status)


@experiments_app.command("stop")
def stop(
    name: str = NAME_ARGUMENT,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Stop a test: later runs no longer split by it (audited)."""
    _changed(name, database, "stop", as_json)


@experiments_app.command("promote")
def promote(
    name: str = NAME_ARGUMENT,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Promote the challenger: the policy of later runs given no --policy (audited)."""
    _changed(name, database, "promote", as_json)


@experiments_app.command("report")
def report(
    name: str = NAME_ARGUMENT,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare the arms' outcomes after their decisions, with intervals and the minimum
    detectable effect."""
    from cardpilot.jobs.experiments import ExperimentError, experiment_report

    db = open_engine(database)
    try:
        data = experiment_report(db, name)
    except ExperimentError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json("experiments report", data)
        return
    _print_report(data)


def _figure(value: Any, money: bool) -> str:
    if value is None:
        return "-"
    return str(value) if money else f"{float(value):.4f}"


def _print_report(data: dict[str, Any]) -> None:
    arms = data["arms"]
    console.print(
        tr("test {name}: {champion} champion and {challenger} challenger accounts").format(
            name=data["experiment"]["name"],
            champion=f"{arms['champion']:,}",
            challenger=f"{arms['challenger']:,}",
        )
    )
    table = titled_table(
        "measure",
        "champion",
        "challenger",
        "difference",
        "interval",
        "minimum detectable effect",
        "significant",
        title=tr("{confidence} intervals, power {power}").format(
            confidence=f"{float(data['confidence']) * 100:g} %",
            power=f"{float(data['power']) * 100:g} %",
        ),
    )
    for o in data["outcomes"]:
        money = o["money"]
        diff = o["difference"]
        table.add_row(
            o["metric"],
            _figure(o["champion"]["value"], money),
            _figure(o["challenger"]["value"], money),
            _figure(diff["value"], money),
            f"[{_figure(diff['low'], money)}, {_figure(diff['high'], money)}]",
            _figure(o["mde"], money),
            "-" if o["significant"] is None else (tr("yes") if o["significant"] else tr("no")),
        )
    console.print(table)
