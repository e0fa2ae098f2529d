"""Policy commands: ``cardpilot policy list | validate | show | diff | publish | calibrate |
migrate``.

Every policy argument is a name (``cardpilot policy list``) or a folder."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, policy_path
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table
from cardpilot.config import get_settings
from cardpilot.domain.money import format_major
from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
from cardpilot.policy.catalogue import (
    LIMITS,
    OVERDUE,
    WARNING,
    PolicyEntry,
    local_dir,
    policy_entries,
)
from cardpilot.policy.customer import customer_version
from cardpilot.policy.diff import diff_policies
from cardpilot.policy.loading import PolicyError, default_policy_path, load_policy
from cardpilot.policy.migration import MigrationError, migrate_policy_folder
from cardpilot.policy.old_syntax import OldPolicySyntaxWarning
from cardpilot.policy.schema import Policy

if TYPE_CHECKING:
    from cardpilot.jobs.calibrate import Calibration

policy_app = typer.Typer(
    help="Check, show and compare limit policy files (grades, segments, guards, reasons).",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")

POLICY_ARG = typer.Argument(
    None,
    help="Policy name (`cardpilot policy list`) or folder (limits.yaml + reasons.yaml);"
    " default: the shipped policy.",
    show_default=False,
    metavar="[NAME|PATH]",
)


def _folder(value: str | Path | None) -> Path | None:
    return policy_path(value, LIMITS)


def _load(value: str | Path | None) -> Policy:
    path = _folder(value)
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise fail(
            f"{exc}\nFix the field named above and run `cardpilot policy validate` again."
        ) from None


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value} %"


def _summary(policy: Policy, path: Path | None) -> dict[str, Any]:
    lp = policy.limits
    return {
        "path": str(path or default_policy_path()),
        "version": policy.version,
        "declared_version": lp.version,
        "currency": lp.currency,
        "effective_from": lp.effective_from,
        "review_cycle_months": lp.review.cycle_months,
        "limit_step": format_major(lp.rounding.limit_step_minor),
        "grading_basis": lp.grading.basis,
        "grades": [
            {
                "code": g.code,
                "label_zh": g.label.zh_cn,
                "label_en": g.label.en,
                "score_min": g.score.min if g.score else None,
                "score_max": g.score.max if g.score else None,
                "pd_min": g.pd.min if g.pd else None,
                "pd_max": g.pd.max if g.pd else None,
                "initial_min": format_major(g.initial_limit.min_minor),
                "initial_max": format_major(g.initial_limit.max_minor),
                "increase_pct_min": g.increase_pct.min if g.increase_pct else None,
                "increase_pct_max": g.increase_pct.max if g.increase_pct else None,
                "decrease_reason": g.decrease.reason,
                "decrease_cut_pct": g.decrease.cut_pct,
                "decrease_floor": format_major(g.decrease.floor_minor),
                "cap_max_limit": (
                    format_major(g.caps.max_limit_minor)
                    if g.caps.max_limit_minor is not None
                    else None
                ),
                "cap_pct_of_annual_income": g.caps.max_pct_of_annual_income,
            }
            for g in lp.grades
        ],
        "segments": [
            {
                "code": s.code,
                "label_zh": s.label.zh_cn,
                "label_en": s.label.en,
                "increase": s.increase,
                "placement_pull": s.placement_pull,
            }
            for s in lp.segments
        ],
        "reason_codes": len(policy.reasons.reasons),
    }


def _recorded_versions(entry: PolicyEntry) -> dict[str, str]:
    """The version each file of ``entry`` records on decisions (declared + content hash), or
    why it cannot be loaded."""
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.warning.policy import WarningPolicyError, load_warning_policy

    out: dict[str, str] = {}
    for f in entry.files:
        try:
            if f.kind == LIMITS:
                out[f.kind] = load_policy(entry.path).version
            elif f.kind == WARNING:
                out[f.kind] = load_warning_policy(entry.path).version
            else:
                out[f.kind] = load_overdue_policy(entry.path).version
        except (PolicyError, OverduePolicyError, WarningPolicyError) as exc:
            out[f.kind] = f"invalid: {str(exc).splitlines()[0]}"
    return out


@policy_app.command("list")
def list_policies(as_json: bool = JSON_OPTION) -> None:
    """The policies a --policy NAME can name: shipped ones and the local folder's
    (policy_dir in cardpilot.toml), with currency and version."""
    entries = policy_entries(get_settings())
    rows = []
    for entry in entries:
        row = entry.as_dict()
        for kind, version in _recorded_versions(entry).items():
            row["files"][kind]["recorded_version"] = version
        rows.append(row)
    if as_json:
        print_json("policy list", {"local_dir": _local_dir_text(), "policies": rows})
        return
    versions = ("limits.yaml version", "overdue.yaml version", "warning.yaml version")
    table = titled_table(
        "name",
        "source",
        "currency",
        "limits.yaml version",
        "overdue.yaml version",
        "warning.yaml version",
        title="policies (--policy NAME)",
        no_wrap=("name",),
        fold=versions,
    )
    for row in rows:
        files = row["files"]
        table.add_row(
            row["name"] + (" (shadowed)" if row["shadowed"] else ""),
            row["source"],
            row["currency"] or "—",
            files.get(LIMITS, {}).get("recorded_version", "—"),
            files.get(OVERDUE, {}).get("recorded_version", "—"),
            files.get(WARNING, {}).get("recorded_version", "—"),
        )
    console.print(table)
    console.print(f"local policy folder (policy_dir): {_local_dir_text() or 'not set'}")


def _local_dir_text() -> str | None:
    folder = local_dir(get_settings())
    return None if folder is None else str(folder)


@policy_app.command("validate")
def validate(policy_ref: str | None = POLICY_ARG, as_json: bool = JSON_OPTION) -> None:
    """Check a policy folder; on error, name the file and field that are wrong."""
    path = _folder(policy_ref)
    try:
        policy = load_policy(path)
        customer = customer_version(path, policy)
    except PolicyError as exc:
        if as_json:
            print_json("policy validate", {"valid": False, "errors": str(exc).splitlines()})
            raise typer.Exit(2) from None
        raise fail(f"{exc}\nFix the field named above and validate again.") from None
    if as_json:
        print_json(
            "policy validate",
            {"valid": True, "version": policy.version, "customer_version": customer},
        )
        return
    console.print(f"[green]valid[/] policy {policy.version}")
    if customer is not None:
        console.print(f"[green]valid[/] customer policy {customer}")


@policy_app.command("show")
def show(policy_ref: str | None = POLICY_ARG, as_json: bool = JSON_OPTION) -> None:
    """Show a policy's grades, limits, triggers, caps and segments."""
    path = _folder(policy_ref)
    policy = _load(path)
    summary = _summary(policy, path)
    if as_json:
        print_json("policy show", summary)
        return
    console.print(
        f"policy [bold]{policy.version}[/] ({summary['currency']}, review every "
        f"{summary['review_cycle_months']} months, limits rounded down to "
        f"{summary['limit_step']})"
    )
    grades = titled_table(
        "grade", "score", "initial limit", "increase", "decrease", "cap", title="grades"
    )
    for g in summary["grades"]:
        band = (
            f"{g['score_min']}–{g['score_max']}"
            if g["score_min"] is not None
            else (f"PD {g['pd_min']}–{g['pd_max']}")
        )
        increase = (
            "none"
            if g["increase_pct_min"] is None
            else f"{g['increase_pct_min']}–{g['increase_pct_max']} %"
        )
        cap = f"{g['cap_max_limit'] or '—'} / {_pct(g['cap_pct_of_annual_income'])} income"
        grades.add_row(
            f"{g['label_zh']} {g['label_en']}",
            band,
            f"{g['initial_min']}–{g['initial_max']}",
            increase,
            f"{g['decrease_reason']}: −{g['decrease_cut_pct']} %, floor {g['decrease_floor']}",
            cap,
        )
    console.print(grades)
    segments = titled_table(
        "segment", "increase", "placement pull", title="segments (first match wins)"
    )
    for s in summary["segments"]:
        segments.add_row(
            f"{s['label_zh']} {s['label_en']}", s["increase"], str(s["placement_pull"])
        )
    console.print(segments)


@policy_app.command("diff")
def diff(
    old: Annotated[str, typer.Argument(help="The current policy (name or folder).")],
    new: Annotated[str, typer.Argument(help="The proposed policy (name or folder).")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Every value that differs between two policies (money in yuan, as written)."""
    a, b = _load(old), _load(new)
    changes = diff_policies(a, b)
    if as_json:
        print_json(
            "policy diff",
            {
                "old_version": a.version,
                "new_version": b.version,
                "currency": b.limits.currency,
                "changes": [c.as_dict() for c in changes],
            },
        )
        return
    if not changes:
        console.print(f"no differences ({a.version} = {b.version})")
        return
    table = titled_table("path", "change", "old", "new", title=f"{a.version} → {b.version}")
    for c in changes:
        table.add_row(
            c.path, c.kind, "" if c.old is None else str(c.old), "" if c.new is None else str(c.new)
        )
    console.print(table)


@policy_app.command("publish")
def publish(
    folder: Annotated[
        Path, typer.Argument(help="Folder of the new policy's files (limits.yaml, ...).")
    ],
    name: str = typer.Option(..., "--name", help="Name to publish it under (not yet taken)."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate a policy folder and publish it, under a new name, into the local policy
    folder (policy_dir); audited. A published policy is never changed."""
    from cardpilot.cli.common import open_engine
    from cardpilot.jobs.policy_publish import PUBLISHABLE, PublishError, publish_policy

    if not folder.is_dir():
        raise fail(f"{folder}: not a folder")
    files = {
        f: (folder / f).read_text(encoding="utf-8") for f in PUBLISHABLE if (folder / f).is_file()
    }
    engine = open_engine(database)
    try:
        published = publish_policy(engine, name, files, get_settings())
    except PublishError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        print_json("policy publish", published.as_json())
        return
    versions = ", ".join(f"{f} {v}" for f, v in published.versions.items())
    console.print(f"[green]published[/] policy {published.name} ({versions}) in {published.path}")


@policy_app.command("calibrate")
def calibrate(
    policy_ref: str | None = POLICY_ARG,
    out: Path = typer.Option(..., "--out", help="Folder to write the calibrated policy to (new)."),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder from `cardpilot model train --out DIR`."
    ),
    family: str = typer.Option(
        "scorecard", "--family", help="Registry model family whose champion scores."
    ),
    shares: str = typer.Option(
        "30,30,20,20", "--shares", help="Percent of accounts per grade, best grade first."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Score as of this date"),
    sample: int | None = typer.Option(
        None, "--sample", help="Calibrate on the first N accounts (account order), not all."
    ),
    label: str | None = typer.Option(
        None, "--label", help="Observed outcome for the grade report (default: the store's one)."
    ),
    version: str | None = typer.Option(
        None, "--version", help="Declared version of the calibrated policy (default: the source's)"
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Place the score cut-offs at quantiles of a model's scores on the store's accounts.

    Writes a copy of the policy folder to --out with only the score scale and each grade's
    score band changed (and the declared version, with --version), and shows the observed
    default rate per calibrated grade when the store holds outcomes. Check the result with
    `cardpilot policy diff` before it goes live.
    """
    from cardpilot.batch.scoring import model_version_of
    from cardpilot.cli.as_of import parse_as_of
    from cardpilot.cli.common import database_url
    from cardpilot.cli.review import load_scorer
    from cardpilot.jobs.calibrate import CalibrationError, calibrate_policy, parse_shares
    from cardpilot.policy.calibration import with_declared_version, write_calibrated_policy

    path = _folder(policy_ref)
    source = _load(path)
    if out.exists():
        raise fail(f"--out {out}: already exists; give a new folder for the calibrated policy")
    scorer = load_scorer(model, family)
    try:
        fractions = parse_shares(shares, len(source.limits.grades))
        result = calibrate_policy(
            database_url(database),
            scorer,
            source,
            shares=fractions,
            as_of=parse_as_of(as_of),
            sample=sample,
            label=label,
        )
    except CalibrationError as exc:
        raise fail(str(exc)) from None
    calibrated = result.policy if version is None else with_declared_version(result.policy, version)
    grades = _score_bands(calibrated)
    rows, monotonic = _grade_report(result)
    header = _calibration_header(
        result, model_version_of(scorer), rows, monotonic, source.limits.version, path
    )
    try:
        comments_kept = write_calibrated_policy(
            path or default_policy_path(), out, calibrated, header
        )
    except PolicyError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(
            "policy calibrate",
            _calibration_json(result, calibrated, source, grades, rows, monotonic, out)
            | {"comments_kept": comments_kept},
        )
        return
    _print_calibration(result, grades, rows, monotonic, calibrated.version, out, comments_kept)


def _grade_report(result: Calibration) -> tuple[list[dict[str, Any]] | None, bool | None]:
    """(rows, default rate rising from the best grade to the worst) when outcomes are known."""
    from cardpilot.jobs.calibrate import report_rows
    from cardpilot.policy.grades import default_rate_is_monotonic

    if result.report is None:
        return None, None
    return report_rows(result.report), default_rate_is_monotonic(result.report)


def _score_bands(policy: Policy) -> list[dict[str, Any]]:
    """Each grade's score band, best grade first."""
    return [
        {"grade": g.code, "score_min": g.score.min, "score_max": g.score.max}
        for g in policy.limits.grades
        if g.score is not None
    ]


def _calibration_json(
    result: Calibration,
    calibrated: Policy,
    source: Policy,
    grades: list[dict[str, Any]],
    rows: list[dict[str, Any]] | None,
    monotonic: bool | None,
    out: Path,
) -> dict[str, Any]:
    """What ``policy calibrate --json`` prints (besides ``comments_kept``)."""
    return {
        "out": str(out),
        "version": calibrated.version,
        "source_version": source.version,
        "as_of": result.as_of.isoformat(),
        "accounts": result.accounts,
        "shares": list(result.shares),
        "score_scale": calibrated.limits.grading.score_scale.model_dump(),
        "grades": grades,
        "label": result.label,
        "grade_report": rows,
        "default_rate_monotonic": monotonic,
    }


def _calibration_header(
    result: Calibration,
    model_version: str | None,
    rows: list[dict[str, Any]] | None,
    monotonic: bool | None,
    source_version: str,
    path: Path | None,
) -> list[str]:
    """The comment written at the top of the calibrated limits.yaml: how it was made."""
    import datetime as dt

    header = [
        f"Score cut-offs calibrated by `cardpilot policy calibrate` on {dt.date.today()}:",
        f"  model {model_version}, {result.accounts:,} accounts scored as of {result.as_of},",
        f"  shares {'/'.join(f'{s * 100:g}' for s in result.shares)} % (best grade first).",
    ]
    if rows is not None:
        rates = ", ".join(f"{r['grade']} {_rate(r['default_rate'])}" for r in rows)
        header.append(f"  Observed default rate ({result.label}), same accounts: {rates}.")
        header.append(f"  Rising from the best grade to the worst: {'yes' if monotonic else 'NO'}.")
    else:
        header.append("  The store holds no outcomes: check the grades with the grade report.")
    header.append(f"  Source: {source_version}, from {path or 'the shipped policy'}.")
    return header


def _print_calibration(
    result: Calibration,
    grades: list[dict[str, Any]],
    rows: list[dict[str, Any]] | None,
    monotonic: bool | None,
    version: str,
    out: Path,
    comments_kept: bool,
) -> None:
    """The calibrated cut-offs with each grade's accounts and observed default rate."""
    table = titled_table(
        "grade",
        "score",
        "accounts",
        "default rate",
        title=tr("calibrated cut-offs ({accounts} accounts as of {as_of})").format(
            accounts=f"{result.accounts:,}", as_of=result.as_of
        ),
        right=("score", "accounts", "default rate"),
    )
    by_grade = {r["grade"]: r for r in rows or []}
    for g in grades:
        r = by_grade.get(str(g["grade"]), {})
        table.add_row(
            str(g["grade"]),
            f"{g['score_min']}–{g['score_max']}",
            f"{r['accounts']:,}" if r else "—",
            _rate(r.get("default_rate")),
        )
    console.print(table)
    if monotonic is not None:
        console.print(f"default rate rising from the best grade to the worst: {monotonic}")
    console.print(f"policy {version} → {out}")
    if not comments_kept:
        console.print("[yellow]limits.yaml was written out whole: its comments are not kept[/]")


def _rate(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@policy_app.command("migrate")
def migrate(
    path: Annotated[Path, typer.Argument(help="Policy folder to rewrite in the current syntax.")],
    out: Path | None = typer.Option(
        None, "--out", help="Write the migrated folder here (default: rewrite PATH in place)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Rewrite a policy folder in the one condition language, keeping its comments.

    The migrated folder must load without the old-syntax shim and records the same policy
    versions as before (the rules do not change, only how they are written)."""
    try:
        with warnings.catch_warnings():  # the old syntax is what is being migrated
            warnings.simplefilter("ignore", OldPolicySyntaxWarning)
            before = _versions(path)
        migration = migrate_policy_folder(path, out)
        with warnings.catch_warnings():
            warnings.simplefilter("error", OldPolicySyntaxWarning)
            after = _versions(migration.target)
    except (MigrationError, PolicyError, OverduePolicyError, OldPolicySyntaxWarning) as exc:
        raise fail(f"{exc}\nNothing was migrated that loads; fix the file named above.") from None
    if before != after:  # a migration must never change a rule
        raise fail(f"migrated versions differ: {before} → {after}; please report this")
    summary = {
        "source": str(migration.source),
        "target": str(migration.target),
        "changed": migration.changed,
        "versions": after,
    }
    if as_json:
        print_json("policy migrate", summary)
        return
    for name, places in migration.changed.items():
        what = f"{len(places)} places rewritten" if places else "already in the current syntax"
        console.print(f"{migration.target / name}: {what} ({after.get(name, '')})")


def _versions(folder: Path) -> dict[str, str]:
    """The recorded version of each policy file in the folder."""
    folder = folder.parent if folder.is_file() else folder
    versions = {}
    if (folder / LIMITS).is_file():
        versions[LIMITS] = load_policy(folder).version
    if (folder / OVERDUE).is_file():
        versions[OVERDUE] = load_overdue_policy(folder).version
    return versions
