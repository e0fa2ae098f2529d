"""Model commands: ``cardpilot model train | list | show | promote | report | psi``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json
from cardpilot.domain import progress

model_app = typer.Typer(help="Train, inspect and promote credit-risk models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _registry() -> Any:
    from cardpilot.config import get_settings
    from cardpilot.scoring.registry import Registry

    return Registry(get_settings().home)


@model_app.command("train")
def train(
    family: str = typer.Option(
        "behaviour",
        "--family",
        help="behaviour (accounts and statements) or application (an applications file).",
    ),
    fmt: str = typer.Option("store", "--format", help="uci (a UCI CSV file) or store."),
    data: Path | None = typer.Option(
        None, "--data", help="The UCI CSV file (--format uci) or the applications file."
    ),
    database: str | None = typer.Option(
        None, "--database", help="Store URL (default: the configured store)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write both model dirs here."),
    base_score: float = typer.Option(600.0, help="Points at the base odds."),
    base_odds: float = typer.Option(50.0, help="Good:bad odds at the base score."),
    pdo: float = typer.Option(20.0, help="Points to double the odds."),
    protected: str = typer.Option(
        "sex,marital_status", help="Comma-separated protected attributes (never model inputs)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the scorecard (champion family) and the GBM (challenger) on the reference split."""
    from cardpilot.scoring.scaling import PointsScale
    from cardpilot.scoring.training import reference_split, train_models, training_data

    protected_list = [p.strip() for p in protected.split(",") if p.strip()]
    if family == "application":
        if data is None or not data.exists():
            raise fail(
                f"--family application needs --data PATH to an applications file (got {data})"
            )
        td = _application_training_data(data, protected_list)
        source = f"applications:{data}"
    elif family != "behaviour":
        raise fail(f"unknown --family {family!r}; use behaviour or application")
    else:
        frames, labels, source = _training_frames(fmt, data, database)
        progress.stage("computing features", None)
        td = training_data(frames, labels, protected=protected_list)
    trained = train_models(
        td, PointsScale(base_score, base_odds, pdo), protected_list, source=source
    )
    _, test_rows = td.split if td.split is not None else reference_split(td.y)
    result = register_trained(trained, td.y[test_rows], out, _registry())
    if as_json:
        print_json("model train", result)
        return
    for family, r in result.items():
        console.print(
            f"[bold]{family}[/] {r['version']}: test AUC {r['test_auc']:.4f}, "
            f"KS {r['test_ks']:.4f}, Gini {r['test_gini']:.4f}, {len(r['features'])} features"
        )


def register_trained(
    trained: dict[str, Any], y_test: Any, out: Path | None, registry: Any
) -> dict[str, Any]:
    """Write each trained model's directory (and report), register it; its figures per family."""
    import tempfile

    from cardpilot.reports.model import model_report
    from cardpilot.scoring.registry import save_model_dir
    from cardpilot.scoring.scorecard import ScorecardModel
    from cardpilot.store.scorecard_sql import write_scorecard_sql

    progress.stage("writing models and reports", len(trained))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for family, t in trained.items():
            target = (out / family) if out else Path(tmp) / family
            if target.exists():
                shutil.rmtree(target)
            save_model_dir(t.model, t.metadata, target)
            write_scorecard_sql(t.model, target)
            rows = t.model.table.to_dicts() if isinstance(t.model, ScorecardModel) else None
            (target / "report.html").write_text(
                model_report(t.metadata, y_test, t.test_score, t.train_score, rows),
                encoding="utf-8",
            )
            registry.register(target)
            progress.advance()
            result[family] = _trained_summary(t.metadata)
    return result


def _trained_summary(metadata: dict[str, Any]) -> dict[str, Any]:
    """What ``model train`` reports of one trained model."""
    m = metadata["metrics"]
    return {
        "version": metadata["version"],
        "test_auc": m["test_auc"],
        "test_ks": m["test_ks"],
        "test_gini": m["test_gini"],
        "psi_train_test": m["psi_train_test"],
        "fit_seconds": metadata["fit_seconds"],
        "features": metadata["features"],
    }


def _training_frames(fmt: str, data: Path | None, database: str | None) -> tuple[Any, Any, str]:
    """(frames, labels, source) of the behaviour family: a UCI CSV file or the store."""
    if fmt == "uci":
        if data is None or not data.exists():
            raise fail(f"--format uci needs --data PATH to the UCI CSV (got {data})")
        from cardpilot.ingest.uci import read_uci

        read = read_uci(data)
        return read, read.labels, f"uci:{data}"
    if fmt == "store":
        from cardpilot.cli.common import open_engine
        from cardpilot.store.frames import read_portfolio_frames

        progress.stage("reading the store", None)
        portfolio = read_portfolio_frames(open_engine(database))
        return portfolio, portfolio.labels, "store"
    raise fail(f"unknown --format {fmt!r}; use uci or store")


def _application_training_data(data: Path, protected: list[str]) -> Any:
    from cardpilot.ingest.applications import read_applications
    from cardpilot.ingest.problems import SourceError
    from cardpilot.scoring.training import application_training_data

    try:
        read = read_applications(data)
    except SourceError as exc:
        raise fail(str(exc)) from exc
    if read.rejects.height:
        first = read.rejects.row(0, named=True)
        raise fail(
            f"{data}: {read.rejects.height} rejected rows, first row {first['row']} "
            f"{first['field']}: {first['reason']}"
        )
    return application_training_data(read.applications, read.labels, protected)


@model_app.command("list")
def list_models(as_json: bool = JSON_OPTION) -> None:
    """Model versions in the registry; * marks each family's champion."""
    rows = _registry().versions()
    if as_json:
        print_json("model list", {"models": rows})
        return
    for r in rows:
        mark = "*" if r["champion"] else " "
        console.print(
            f"{mark} {r['family']:<10} {r['version']:<40} AUC {r['test_auc']:.4f} "
            f"KS {r['test_ks']:.4f} {r['created_at']}"
        )


@model_app.command("show")
def show(version: str, as_json: bool = JSON_OPTION) -> None:
    """Metadata of one version (data hash, features, parameters, metrics)."""
    from cardpilot.scoring.registry import RegistryError

    try:
        meta = _registry().metadata(version)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json("model show", meta)
        return
    keys = ("family", "version", "created_at", "data_hash", "as_of", "metrics", "features")
    for k in keys:
        console.print(f"[bold]{k}[/]: {meta[k]}")


@model_app.command("promote")
def promote(version: str, as_json: bool = JSON_OPTION) -> None:
    """Make VERSION the champion of its family."""
    from cardpilot.scoring.registry import RegistryError

    try:
        champions = _registry().promote(version)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json("model promote", {"champions": champions})
    else:
        console.print(f"champions: {champions}")


@model_app.command("report")
def report(
    version: str,
    out: Path = typer.Option(Path("model-report.html"), "--out", help="Where to write it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the HTML model report (ROC, KS, calibration, distributions, IV, PSI, fairness)."""
    from cardpilot.scoring.registry import RegistryError

    try:
        src = _registry().path(version) / "report.html"
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    if not src.exists():
        raise fail(f"{src} missing; retrain the model to produce its report")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    if as_json:
        print_json("model report", {"report": str(out)})
    else:
        console.print(f"report written to {out}")


@model_app.command("psi")
def psi_command(
    expected: Path = typer.Argument(..., help="Scored population (CSV/Parquet, column score)."),
    actual: Path = typer.Argument(..., help="Population to compare against it."),
    column: str = typer.Option("score", help="Score column."),
    bins: int = typer.Option(10, help="Quantile bins of the expected population."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Population stability index between two scored populations (monitoring)."""
    import polars as pl

    from cardpilot.scoring.metrics import psi

    def read(path: Path) -> Any:
        if not path.exists():
            raise fail(f"{path}: no such file")
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
        if column not in frame.columns:
            raise fail(f"{path}: no column {column!r} (columns: {frame.columns})")
        return frame.get_column(column).drop_nulls().to_numpy()

    value = psi(read(expected), read(actual), bins)
    verdict = "stable" if value < 0.10 else "watch" if value < 0.25 else "shifted"
    if as_json:
        print_json("model psi", {"psi": round(value, 6), "verdict": verdict})
    else:
        console.print(f"PSI {value:.4f} ({verdict})")
