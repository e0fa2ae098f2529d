"""Review commands: ``cardpilot review``, ``cardpilot watch``, ``cardpilot assign``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_or_today, parse_as_of
from cardpilot.cli.common import (
    DATABASE_OPTION,
    EXPERIMENT_OPTION,
    LIMITS_POLICY_OPTION,
    database_url,
    experiment_policies,
    open_engine,
    policy_path,
)
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.cli.progress import counted
from cardpilot.domain.money import format_major, to_minor

POLICY_OPTION = LIMITS_POLICY_OPTION


def _policy(value: str | None) -> Any:
    from cardpilot.policy.catalogue import LIMITS
    from cardpilot.policy.loading import PolicyError, load_policy

    path = policy_path(value, LIMITS)
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise fail(f"{exc}\nFix the field named above (cardpilot policy validate).") from None


def load_scorer(model: Path | None, family: str) -> Any:
    """``--model DIR`` (a folder written by ``cardpilot model train --out DIR``: a model
    folder, or the folder holding one per family) or the registry's champion of ``family``."""
    from cardpilot.config import get_settings
    from cardpilot.scoring.registry import Registry, RegistryError, load_model_dir

    try:
        if model is None:
            return Registry(get_settings().home).champion(family)
        if not model.exists():
            raise fail(f"--model {model}: no such folder (write one with cardpilot model train)")
        if (model / family).is_dir() and not (model / "metadata.json").exists():
            model = model / family
        return load_model_dir(model)
    except RegistryError as exc:
        raise fail(str(exc)) from None


def tips_advice(value: str | None) -> Any:
    """The advice section of the policy folder's ``customer.yaml`` when the policy puts advice
    in the tips message (``advice.in_tips``); None when it has none."""
    from cardpilot.policy.catalogue import LIMITS
    from cardpilot.policy.customer import CUSTOMER_FILE, load_customer_policy
    from cardpilot.policy.loading import PolicyError, default_policy_path

    folder = policy_path(value, LIMITS) or default_policy_path()
    folder = folder.parent if folder.is_file() else folder
    if not (folder / CUSTOMER_FILE).is_file():
        return None
    try:
        advice = load_customer_policy(folder).advice
    except PolicyError as exc:
        raise fail(f"{exc}\nFix the field named above (cardpilot policy validate).") from None
    return advice if advice is not None and advice.in_tips else None


# ``cardpilot review`` reviews the portfolio; its sub-commands (``review explain``) act on one
# account's decision.
review_app = typer.Typer(help="Review the portfolio's limits, or explain one account's decision.")
app.add_typer(review_app, name="review")


@review_app.callback(invoke_without_command=True)
def review(
    ctx: typer.Context,
    as_of: str | None = typer.Option(None, "--as-of", help="Review date"),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder from `cardpilot model train --out DIR`."
    ),
    family: str = typer.Option(
        "scorecard", "--family", help="Registry model family whose champion scores."
    ),
    policy: str | None = POLICY_OPTION,
    engine: str = typer.Option("local", "--engine", help="local (in-process) or spark."),
    out: Path | None = typer.Option(
        None, "--out", help="Export the cycle's decisions (.csv or .parquet)."
    ),
    report: Path | None = typer.Option(None, "--report", help="Write the HTML review report."),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", help="Accounts per chunk."),
    spark_master: str = typer.Option("local[2]", "--spark-master", help="Spark master URL."),
    experiment: str | None = EXPERIMENT_OPTION,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide increase / keep / decrease for every account due in this review cycle."""
    if ctx.invoked_subcommand is not None:
        return
    from cardpilot.engines.deciders import ENGINES
    from cardpilot.jobs.review import ReviewError, review_portfolio

    if engine not in ENGINES:
        raise fail(f"--engine {engine!r}: use one of {', '.join(ENGINES)}")
    url = database_url(database)
    arms, policy = experiment_policies(url, experiment, policy, "limits")
    chosen = arms.champion if arms is not None else _policy(policy)
    scorer = load_scorer(model, family)
    spark = None
    if engine == "spark":
        from cardpilot.engines.spark import local_spark_session

        spark = local_spark_session(spark_master)
    with _progress_bar("review", transient=as_json) as on_progress:
        try:
            result = review_portfolio(
                url,
                scorer,
                policy=chosen,
                as_of=parse_as_of(as_of),
                engine=engine,
                chunk_rows=chunk_rows,
                out=out,
                progress=on_progress,
                spark=spark,
                tips_advice=tips_advice(policy),
                experiment=arms,
            )
        except ReviewError as exc:
            raise fail(str(exc)) from None
    payload = {**result.as_json(), "run_id": str(result.run_id)}
    if report is not None:
        _write_report(url, result.cycle_id, chosen, report)
        payload["report"] = str(report)
    if as_json:
        print_json("review", payload)
        return
    _print_review(result)
    if out is not None:
        console.print(f"decisions → {out}")
    if report is not None:
        console.print(f"report → {report}")


def _progress_bar(
    title: str, *, transient: bool
) -> AbstractContextManager[Callable[[int, int], None]]:
    """A progress bar on stderr; yields the job's progress callback (done, total)."""
    return counted(err_console, title, transient=transient)


def _write_report(url: str, cycle_id: str, policy: Any, path: Path) -> None:
    from cardpilot.reports.review import write_review_report
    from cardpilot.store.db import make_engine

    db = make_engine(url)
    try:
        write_review_report(db, cycle_id, policy, path)
    finally:
        db.dispose()


def _print_review(result: Any) -> None:
    console.print(
        f"review run {result.run_id} · cycle {result.cycle_id} · as of {result.as_of} · "
        f"{result.seconds:.1f} s"
    )
    console.print(f"decided {result.decided:,} · skipped {result.skipped:,}")
    console.print(f"  {result.skipped_within_cycle:,} decided in cycle {result.cycle_id} already")
    console.print(
        f"  {result.skipped_no_new_evidence:,} with no statement since their last decision"
    )
    if result.early_reviews:
        console.print(f"  of the decided, {result.early_reviews:,} again early (a watch flag)")
    if result.decided == 0 and result.skipped_no_new_evidence:
        console.print("nothing new to decide: no new statements since the last decisions")
    for title, counts in (
        ("action", result.by_action),
        ("grade", result.by_grade),
        ("segment", result.by_segment),
    ):
        table = titled_table(
            title,
            "accounts",
            title=tr("cycle {cycle} by {what}").format(cycle=result.cycle_id, what=tr(title)),
            right=("accounts",),
        )
        for key, n in counts.items():
            table.add_row(key, f"{n:,}")
        console.print(table)
    console.print(f"watched after large increases: {result.watched:,}; flags: {result.flags:,}")
    # A decrease takes effect after its notice period (cardpilot limits apply-pending).
    console.print(
        f"decreases waiting for their notice period: {result.by_action.get('decrease', 0):,}"
    )
    console.print(f"earlier decreases taking effect now: {result.pending_applied:,}")


@app.command("watch")
def watch(
    check: bool = typer.Option(
        False, "--check", help="Check new statements against the watch rules first."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="With --check: check the statements up to this date"
    ),
    policy: str | None = POLICY_OPTION,
    limit: int = typer.Option(50, "--limit", help="Rows to show."),
    locale: str = typer.Option("zh-CN", "--locale", help="zh-CN or en."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show accounts watched after large increases, with the flags and their reasons."""
    from cardpilot.batch.dates import EmptyStoreError
    from cardpilot.jobs.watch import watch_accounts

    chosen = _policy(policy)
    db = open_engine(database)
    try:
        report = watch_accounts(db, chosen, check=check, as_of=parse_as_of(as_of), locale=locale)
    except EmptyStoreError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    added, watches = report.flags_added, report.watches
    flagged = watches.filter(watches["flags"] > 0) if watches.height else watches
    if as_json:
        print_json(
            "watch",
            {
                "currency": chosen.limits.currency,
                "watched": watches.height,
                "flagged": flagged.height,
                "flags_added": added,
                "actions": report.actions,
                "watches": watches.head(limit).to_dicts(),
            },
        )
        return
    console.print(
        f"{watches.height:,} accounts watched, {flagged.height:,} flagged"
        + (f" ({added:,} new flags)" if check else "")
    )
    if report.actions:
        done = ", ".join(f"{n:,} {action}" for action, n in report.actions.items())
        console.print(f"actions taken on the flags: {done}")
    table = titled_table(
        "account",
        "grade",
        "from",
        "to",
        "old limit",
        "new limit",
        "flags",
        "reasons",
        right=("old limit", "new limit", "flags"),
    )
    for w in watches.head(limit).iter_rows(named=True):
        table.add_row(
            w["account_id"],
            w["grade"] or "",
            str(w["started_on"]),
            str(w["ends_on"]),
            format_major(w["old_limit_minor"]),
            format_major(w["new_limit_minor"]),
            str(w["flags"]),
            "；".join(w["reason_texts"] or []),
        )
    console.print(table)


@app.command("assign")
def assign(
    applicants: Path | None = typer.Option(
        None, "--applicants", help="CSV or Parquet: applicant_id, score (or pd), annual_income."
    ),
    applicant_id: str = typer.Option("applicant", "--id", help="One applicant's id."),
    score: int | None = typer.Option(None, "--score", help="The applicant's score (points)."),
    pd: float | None = typer.Option(None, "--pd", help="The applicant's probability of default."),
    income: str | None = typer.Option(None, "--income", help="Annual income in yuan."),
    as_of: str | None = typer.Option(None, "--as-of", help="Decision date"),
    policy: str | None = POLICY_OPTION,
    out: Path | None = typer.Option(None, "--out", help="Write the offers (.csv or .parquet)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Initial limits for new applicants from the policy (grade range, score, income)."""
    import polars as pl

    from cardpilot.jobs.assign import ApplicantError, assign_limits, read_applicants

    chosen = _policy(policy)
    if applicants is not None:
        try:
            frame = read_applicants(applicants)
        except ApplicantError as exc:
            raise fail(str(exc)) from None
    else:
        if score is None and pd is None:
            raise fail("give --score (or --pd) for one applicant, or --applicants FILE")
        try:
            income_minor = to_minor(income) if income else None
        except ValueError as exc:
            raise fail(f"--income {income!r}: {exc}") from None
        frame = pl.DataFrame(
            {
                "applicant_id": [applicant_id],
                "score": [score],
                "pd": [pd],
                "annual_income_minor": [income_minor],
            },
            schema={
                "applicant_id": pl.String,
                "score": pl.Int64,
                "pd": pl.Float64,
                "annual_income_minor": pl.Int64,
            },
        )
    offers = assign_limits(frame, chosen, as_of_or_today(as_of))
    if out is not None:
        _write_offers(offers, out)
    rows = offers.to_dicts()
    if as_json:
        print_json(
            "assign",
            {"currency": chosen.limits.currency, "applicants": len(rows), "offers": rows},
        )
        return
    table = titled_table(
        "applicant", "grade", "action", "initial limit", "reasons", right=("initial limit",)
    )
    for r in rows[:50]:
        limit = r["initial_limit_minor"]
        table.add_row(
            r["applicant_id"],
            r["grade"] or "",
            r["action"],
            "—" if limit is None else format_major(limit),
            "；".join(r["reason_texts_zh"]),
        )
    console.print(table)
    if out is not None:
        console.print(f"offers → {out}")


def _write_offers(offers: Any, out: Path) -> None:
    """``assign --out``: the offers as Parquet, or as CSV with their lists joined by ``;``."""
    import polars as pl

    from cardpilot.csv_safety import write_safe_csv

    if out.suffix.lower() == ".parquet":
        offers.write_parquet(out)
    elif out.suffix.lower() == ".csv":
        write_safe_csv(
            offers.with_columns(
                pl.col(c).list.join(";")
                for c in ("reason_codes", "reason_texts_zh", "reason_texts_en")
            ),
            out,
        )
    else:
        raise fail(f"--out {out}: use a .csv or .parquet file name")


def demo_review(
    url: str,
    *,
    data: Path | None,
    home: Path,
    out_console: Any = None,
) -> dict[str, Any]:
    """The demo's review steps, for ``cardpilot demo`` to call after loading: train the models,
    show the grade report, review, write the HTML report.

    ``data``: the UCI file when the demo imported the real data (the NT$ policy variant is used
    and the models are trained on it), else None (synthetic CNY portfolio, trained on the store).
    Returns the review result as JSON with the report's path.
    """
    from cardpilot.jobs.review import review_portfolio
    from cardpilot.policy.loading import default_policy_path, load_policy

    shown = out_console or console
    shown.rule("[bold]Train the scorecard (champion) and the GBM (challenger)")
    td, scorer = _train_demo_models(url, data, home, shown)
    folder = default_policy_path()
    policy = load_policy(folder.parent / "uci-twd" if data is not None else folder)
    policy = _demo_grades(td, scorer, policy, calibrate=data is None, shown=shown)
    shown.rule(f"[bold]Review every account ({policy.version})")
    result = review_portfolio(url, scorer, policy=policy)
    shown.print(
        f"  cycle {result.cycle_id} as of {result.as_of}: "
        + ", ".join(f"{k} {v:,}" for k, v in result.by_action.items())
        + f"; watched {result.watched:,}"
    )
    out = home / "review-report.html"
    _write_report(url, result.cycle_id, policy, out)
    shown.print(f"  report → {out}")
    payload = result.as_json()
    payload["report"] = str(out)
    return payload


def _train_demo_models(url: str, data: Path | None, home: Path, shown: Any) -> tuple[Any, Any]:
    """Both model families trained on the demo's portfolio (the UCI file, or the store) and
    promoted in the registry; returns the training data and the scorecard."""
    from cardpilot.config import get_settings
    from cardpilot.scoring.registry import Registry, save_model_dir
    from cardpilot.scoring.scaling import PointsScale
    from cardpilot.scoring.training import train_models, training_data
    from cardpilot.store.scorecard_sql import write_scorecard_sql

    protected = ["sex", "marital_status"]
    frames: Any
    if data is not None:
        from cardpilot.ingest.uci import read_uci

        frames = read_uci(data)
    else:
        from cardpilot.store.db import make_engine
        from cardpilot.store.frames import read_portfolio_frames

        db = make_engine(url)
        try:
            frames = read_portfolio_frames(db)
        finally:
            db.dispose()
    td = training_data(frames, frames.labels, protected=protected)
    trained = train_models(td, PointsScale(600.0, 50.0, 20.0), protected, source="demo")
    registry = Registry(get_settings().home)
    for family, t in trained.items():
        target = home / "demo-models" / family
        save_model_dir(t.model, t.metadata, target)
        write_scorecard_sql(t.model, target)
        registry.register(target)
        # The demo's freshly trained models are the ones the later steps must use.
        registry.promote(t.metadata["version"])
        shown.print(
            f"  {family} {t.metadata['version']}: test AUC {t.metadata['metrics']['test_auc']:.3f}"
        )
    return td, trained["scorecard"].model


def _demo_grades(td: Any, scorer: Any, policy: Any, *, calibrate: bool, shown: Any) -> Any:
    """The grades on the test split with their observed default rates; ``calibrate``: the
    cut-offs placed on the training split's scores first. Returns the policy reviewed with."""
    import polars as pl

    from cardpilot.policy.grades import (
        calibrate_score_cutoffs,
        default_rate_is_monotonic,
        grade_report,
    )
    from cardpilot.scoring.training import reference_split

    train_rows, test_rows = reference_split(td.y)
    if calibrate:
        # The shipped CNY cut-offs assume a scale this freshly trained model does not have:
        # calibrate them on the training split (30/30/20/20 %), check them on the test split.
        train_scores = scorer.score(td.features[train_rows])["score"]
        policy = calibrate_score_cutoffs(policy, train_scores, [0.3, 0.3, 0.2, 0.2])
        cuts = ", ".join(f"{g.code} ≥ {g.score.min}" for g in policy.limits.grades if g.score)
        shown.print(f"  cut-offs calibrated on the training split: {cuts}")
    shown.rule("[bold]Grades on the test split (observed default rate)")
    scored = scorer.score(td.features[test_rows]).with_columns(
        pl.Series("label", [int(v) for v in td.y[test_rows]])
    )
    report = grade_report(scored, policy)
    for row in report.iter_rows(named=True):
        rate = "—" if row["default_rate"] is None else f"{row['default_rate'] * 100:.1f} %"
        shown.print(f"  {row['grade']:<10} {row['accounts']:>7,} accounts  default rate {rate}")
    shown.print(f"  monotonic: {default_rate_is_monotonic(report)}")
    return policy
