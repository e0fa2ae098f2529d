"""Early-warning commands: ``cardpilot warn train``, ``warn run`` and ``warn list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_for_url, as_of_or_default
from cardpilot.cli.common import DATABASE_OPTION, database_url, policy_path
from cardpilot.cli.output import (
    JSON_OPTION,
    console,
    err_console,
    fail,
    print_json,
    titled_table,
)
from cardpilot.cli.progress import counted
from cardpilot.domain import progress

warn_app = typer.Typer(
    help="Early warning: accounts current now that are likely to go overdue next cycle.",
    no_args_is_help=True,
)
app.add_typer(warn_app, name="warn")


@warn_app.command("train")
def train(
    fmt: str = typer.Option("uci", "--format", help="uci (a UCI CSV file) or store."),
    data: Path | None = typer.Option(None, "--data", help="The UCI CSV file (--format uci)."),
    database: str | None = typer.Option(
        None, "--database", help="Store URL (default: the configured store)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write both model dirs here."),
    champion: Path | None = typer.Option(
        None,
        "--champion",
        help="The behaviour scorecard to compare with (a model dir); default: the registry's "
        "scorecard champion, else one trained in this run.",
    ),
    protected: str = typer.Option(
        "sex,marital_status", help="Comma-separated protected attributes (never model inputs)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the early-warning scorecard and GBM on the accounts current at the latest cycle,
    register them (families warning-scorecard, warning-gbm) and compare their ranking of the
    test accounts with the champion behaviour scorecard's."""
    from cardpilot.cli.model import register_trained
    from cardpilot.scoring.training import train_models
    from cardpilot.warning.training import warning_training_data

    protected_list = [p.strip() for p in protected.split(",") if p.strip()]
    frames, source = _portfolio(fmt, data, database)
    progress.stage("computing early-warning features", None)
    td = warning_training_data(frames, frames.labels, protected=protected_list)
    trained = train_models(td, protected=protected_list, source=source)
    registry = _registry()
    assert td.split is not None
    _, test = td.split
    models = register_trained(trained, td.y[test], out, registry)
    progress.stage("scoring the same accounts with the champion scorecard", None)
    result = _comparison(td, trained, _champion(champion, registry, frames), models)
    if as_json:
        print_json("warn train", result)
        return
    console.print(
        f"early warning ({result['model']}) on {result['test_accounts']} current accounts: "
        f"AUC {result['auc']:.4f}, top decile captures {result['top_decile_capture']:.1%}; "
        f"champion scorecard AUC {result['champion_auc']:.4f}, "
        f"top decile {result['champion_top_decile_capture']:.1%}"
    )


def _registry() -> Any:
    from cardpilot.config import get_settings
    from cardpilot.scoring.registry import Registry

    return Registry(get_settings().home)


def _portfolio(fmt: str, data: Path | None, database: str | None) -> tuple[Any, str]:
    if fmt == "uci":
        if data is None or not data.exists():
            raise fail(f"--format uci needs --data PATH to the UCI CSV (got {data})")
        from cardpilot.ingest.uci import read_uci

        return read_uci(data), f"uci:{data}"
    if fmt == "store":
        from cardpilot.cli.common import open_engine
        from cardpilot.store.frames import read_portfolio_frames

        progress.stage("reading the store", None)
        return read_portfolio_frames(open_engine(database)), "store"
    raise fail(f"unknown --format {fmt!r}; use uci or store")


def _champion(path: Path | None, registry: Any, frames: Any) -> tuple[Any, str]:
    """The behaviour scorecard to compare with and where it came from."""
    from cardpilot.scoring.registry import RegistryError, load_model_dir
    from cardpilot.scoring.training import train_models, training_data

    if path is not None:
        try:
            return load_model_dir(path), str(path)
        except RegistryError as exc:
            raise fail(str(exc)) from exc
    try:
        return registry.champion("scorecard"), registry.champion_version("scorecard")
    except RegistryError:
        trained = train_models(training_data(frames, frames.labels), source="warn-champion")
        return trained["scorecard"].model, "trained in this run"


def _comparison(
    td: Any, trained: dict[str, Any], champion: tuple[Any, str], models: dict[str, Any]
) -> dict[str, Any]:
    from cardpilot.warning.training import compare_with_champion

    figures = compare_with_champion(td, trained, champion[0])
    return {**figures, "champion": champion[1], "models": models}


WARNING_POLICY_OPTION = typer.Option(
    None,
    "--policy",
    help="Policy by name (`cardpilot policy list`) or folder holding warning.yaml and "
    "overdue.yaml (plan terms, minimum due, revolving rate); default: the shipped one.",
)


@warn_app.command("run")
def run(
    as_of: str | None = typer.Option(None, "--as-of", help="The day to decide for"),
    model: Path | None = typer.Option(
        None,
        "--model",
        help="An early-warning model folder (`cardpilot warn train --out DIR`); default: the "
        "registry's warning-gbm champion.",
    ),
    policy: str | None = WARNING_POLICY_OPTION,
    chunk_rows: int = typer.Option(20_000, "--chunk-rows", help="Accounts per chunk."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Score the accounts current now with the early-warning model, decide warning.yaml's
    interventions (cool-downs, cap), store them with their reasons and advice, and queue their
    messages through the outbox; a re-run stores and queues nothing twice. Quiet hours and
    the per-customer cap apply when `cardpilot notify dispatch` sends them."""
    from cardpilot.config import get_settings
    from cardpilot.jobs.warning import WarnRunError, load_warning_model, run_warning
    from cardpilot.notify.warning_notices import WarningPlanError
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.overdue.reminders import RemindersError
    from cardpilot.policy.catalogue import WARNING
    from cardpilot.warning.policy import WarningPolicyError, load_warning_policy

    folder = policy_path(policy, WARNING)
    try:
        warning = load_warning_policy(folder)
        overdue = load_overdue_policy(None if folder is None else _folder(folder))
        scorer = load_warning_model(model, get_settings().home)
    except (WarningPolicyError, OverduePolicyError, WarnRunError) as exc:
        raise fail(str(exc)) from None
    url = database_url(database)
    day = as_of_for_url(as_of, url)
    with counted(err_console, "warn", transient=as_json) as on_progress:
        try:
            result = run_warning(
                url,
                as_of=day,
                model=scorer,
                warning_policy=warning,
                overdue_policy=overdue,
                chunk_rows=chunk_rows,
                progress=on_progress,
            )
        except (WarnRunError, WarningPlanError, RemindersError) as exc:
            raise fail(str(exc)) from None
    if as_json:
        print_json("warn run", result.as_json())
        return
    console.print(
        f"early warning · {result.as_of} · accounts {result.accounts:,} · current "
        f"{result.current:,} · scored {result.scored:,} · interventions "
        f"{result.interventions:,} (new {result.stored:,}, holds {result.holds:,}) · queued "
        f"{result.queued:,} · {result.seconds:.1f} s · policy {result.policy_version} · "
        f"model {result.model_version}"
    )
    if result.by_rule:
        table = titled_table("rule", "interventions", title="interventions by rule")
        for rule, n in result.by_rule.items():
            table.add_row(rule, f"{n:,}")
        console.print(table)


def _folder(path: Path) -> Path:
    return path.parent if path.is_file() else path


@warn_app.command("list")
def watch_list(
    as_of: str | None = typer.Option(
        None, "--as-of", help="List the latest early-warning run on or before this day"
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="Accounts to list, riskiest first."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The watch list of an early-warning run: the highest scores first, with the reasons and
    the interventions decided that day."""
    from cardpilot.cli.i18n import configured_locale
    from cardpilot.store.db import make_engine
    from cardpilot.store.warning_interventions import latest_run_date
    from cardpilot.store.warning_interventions import watch_list as read_watch_list

    db = make_engine(database_url(database))
    try:
        on_or_before = as_of_or_default(as_of, db)
        day = latest_run_date(db, on_or_before)
        if day is None:
            raise fail(
                f"no early-warning run on or before {on_or_before}; "
                "run `cardpilot warn run --as-of DATE`"
            )
        rows = read_watch_list(db, day, limit)
    finally:
        db.dispose()
    if as_json:
        print_json(
            "warn list", {"as_of": day.isoformat(), "accounts": len(rows), "watch_list": rows}
        )
        return
    table = titled_table(
        "rank", "account", "score", "change", "reasons", "interventions", title="watch list"
    )
    locale = configured_locale()
    for r in rows:
        texts = [_reason(code, locale) for code in r["reason_codes"][:2]]
        change = "" if r["score_change"] is None else f"{r['score_change']:+.3f}"
        actions = ", ".join(i["intervention"] for i in r["interventions"])
        table.add_row(
            str(r["rank"]), r["account_id"], f"{r['score']:.3f}", change, "; ".join(texts), actions
        )
    console.print(f"early warning · run of {day} · {len(rows)} accounts")
    console.print(table)


def _reason(code: str, locale: str) -> str:
    from cardpilot.scoring.reasons import reason_text

    try:
        return str(reason_text(code, locale))
    except KeyError:
        return code
