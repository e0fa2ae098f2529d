"""Early-warning commands: ``cardpilot warn train``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json
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
