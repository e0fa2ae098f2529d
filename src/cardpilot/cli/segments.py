"""Segment commands: ``cardpilot segments cluster | profile`` (data-driven clusters)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import parse_as_of
from cardpilot.cli.common import DATABASE_OPTION, open_engine, policy_path
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table
from cardpilot.cli.review import POLICY_OPTION, load_scorer
from cardpilot.domain import progress

segments_app = typer.Typer(
    help="Data-driven spending and repayment clusters, compared with the policy's segments.",
    no_args_is_help=True,
)
app.add_typer(segments_app, name="segments")

FORMAT_OPTION = typer.Option("store", "--format", help="store, or uci (a UCI CSV file).")
DATA_OPTION = typer.Option(None, "--data", help="The UCI CSV file (--format uci).")
AS_OF_OPTION = typer.Option(
    None, "--as-of", help="Features as of this date (--format uci: the file is the store)"
)
MODEL_OPTION = typer.Option(
    None, "--model", help="Model folder (cardpilot model train --out DIR): adds score and PD."
)
LABEL_OPTION = typer.Option("default_next_month", "--label", help="Outcome label for rates.")


def _out(out: Path | None) -> Path:
    from cardpilot.config import get_settings

    return out or get_settings().home / "segments"


def _input(fmt: str, data: Path | None, database: str | None, as_of: str | None) -> Any:
    from cardpilot.ingest.sources import SourceError
    from cardpilot.jobs.segments import read_store_input, read_uci_input
    from cardpilot.segments.source import SegmentSourceError

    when = parse_as_of(as_of)
    try:
        if fmt == "uci":
            if data is None:
                raise fail("--format uci needs --data PATH to the UCI CSV")
            return read_uci_input(data, when)
        if fmt == "store":
            return read_store_input(open_engine(database), when)
    except (SourceError, SegmentSourceError) as exc:
        raise fail(str(exc)) from None
    raise fail(f"--format {fmt!r}: use store or uci")


def _policy(currency: str, value: str | None) -> Any:
    from cardpilot.policy.catalogue import LIMITS
    from cardpilot.policy.loading import PolicyError
    from cardpilot.segments.source import SegmentSourceError, policy_for

    folder = policy_path(value, LIMITS)
    try:
        return policy_for(currency, folder)
    except (PolicyError, SegmentSourceError) as exc:
        raise fail(str(exc)) from None


def _prepare(
    fmt: str,
    data: Path | None,
    database: str | None,
    as_of: str | None,
    policy: str | None,
    model: Path | None,
    as_json: bool,
) -> tuple[Any, Any, Any]:
    """The portfolio's features and labels, the policy in its currency, the optional scorer."""
    progress.stage("reading the portfolio and computing features", None)
    source = _input(fmt, data, database, as_of)
    chosen = _policy(source.currency, policy)
    scorer = load_scorer(model, "scorecard") if model is not None else None
    return source, chosen, scorer


@contextmanager
def _user_errors() -> Iterator[None]:
    """A clustering that cannot be fitted, loaded or applied is the user's to fix: say so."""
    from cardpilot.scoring.protected import ProtectedAttributeError
    from cardpilot.segments.clustering import ClusteringError

    try:
        yield
    except (ClusteringError, ProtectedAttributeError) as exc:
        raise fail(str(exc)) from None


def _k_range(value: str) -> tuple[int, int]:
    try:
        low, high = (int(p) for p in value.split("-", 1))
    except ValueError:
        raise fail(f"--k-range {value!r}: expected LOW-HIGH, e.g. 3-8") from None
    if not 2 <= low <= high:
        raise fail(f"--k-range {value!r}: needs 2 ≤ LOW ≤ HIGH")
    return low, high


@segments_app.command("cluster")
def cluster(
    fmt: str = FORMAT_OPTION,
    data: Path | None = DATA_OPTION,
    database: str | None = DATABASE_OPTION,
    k: int | None = typer.Option(None, "--k", help="Number of clusters (default: by silhouette)."),
    k_range: str = typer.Option("3-8", "--k-range", help="k tried when --k is not given."),
    seed: int = typer.Option(20051001, "--seed", help="Seed of the sample and of KMeans."),
    max_fit_rows: int = typer.Option(100_000, "--max-fit-rows", help="Accounts fitted on."),
    as_of: str | None = AS_OF_OPTION,
    policy: str | None = POLICY_OPTION,
    model: Path | None = MODEL_OPTION,
    label: str = LABEL_OPTION,
    out: Path | None = typer.Option(None, "--out", help="Folder to write (default HOME/segments)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit a clustering on behaviour features, save it and write its profile report."""
    from cardpilot.jobs.segments import cluster_portfolio

    bounds = _k_range(k_range)
    source, chosen, scorer = _prepare(fmt, data, database, as_of, policy, model, as_json)
    with _user_errors():
        run = cluster_portfolio(
            source,
            chosen,
            _out(out),
            k=k,
            k_range=bounds,
            seed=seed,
            max_fit_rows=max_fit_rows,
            scorer=scorer,
            label=label,
        )
    _report("segments cluster", run, as_json)


@segments_app.command("profile")
def profile(
    clustering: Path = typer.Option(
        ..., "--clustering", help="clustering.json (or its folder) from segments cluster."
    ),
    fmt: str = FORMAT_OPTION,
    data: Path | None = DATA_OPTION,
    database: str | None = DATABASE_OPTION,
    as_of: str | None = AS_OF_OPTION,
    policy: str | None = POLICY_OPTION,
    model: Path | None = MODEL_OPTION,
    label: str = LABEL_OPTION,
    out: Path | None = typer.Option(None, "--out", help="Folder to write (default HOME/segments)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Assign accounts to a saved clustering and write the profile report."""
    from cardpilot.jobs.segments import profile_portfolio
    from cardpilot.segments.clustering import load_clustering

    with _user_errors():
        fitted = load_clustering(clustering)
    source, chosen, scorer = _prepare(fmt, data, database, as_of, policy, model, as_json)
    with _user_errors():
        run = profile_portfolio(fitted, source, chosen, _out(out), scorer=scorer, label=label)
    _report("segments profile", run, as_json)


def _report(command: str, run: Any, as_json: bool) -> None:
    if as_json:
        print_json(command, run.as_json())
        return
    p = run.profile
    console.print(
        f"[bold]clustering[/] {run.model.version}: {p['accounts']:,} accounts, k = {run.model.k}"
        + (f", policy {p['policy_version']}" if "policy_version" in p else "")
    )
    from cardpilot.config import get_settings

    name_key = "name_zh" if get_settings().locale == "zh-CN" else "name_en"
    table = titled_table(
        "id", "name", "accounts", "share", "default rate", "mean PD", "policy segment"
    )
    for c in p["clusters"]:
        rate, pd = c.get("default_rate"), c.get("pd_mean")
        table.add_row(
            c["code"],
            c[name_key],
            f"{c['accounts']:,}",
            f"{c['share']:.1%}",
            "—" if rate is None else f"{rate:.1%}",
            "—" if pd is None else f"{pd:.1%}",
            f"{c.get('policy_segment') or '—'} ({(c.get('policy_segment_share') or 0):.0%})",
        )
    console.print(table)
    for name, path in run.files.items():
        console.print(f"{name}: {path}")


def demo_segments(url: str, out: Path, as_of: str) -> None:
    """For ``make demo``: cluster the store's accounts as of ``as_of`` (k by silhouette), with
    the champion scorecard's mean PD per cluster, and print the profile beside the policy's
    segments."""
    from cardpilot.jobs.segments import cluster_portfolio

    source, chosen, _ = _prepare("store", None, url, as_of, None, None, False)
    with _user_errors():
        run = cluster_portfolio(
            source, chosen, out, k_range=(3, 6), scorer=load_scorer(None, "scorecard")
        )
    _report("segments cluster", run, False)
