"""``cardpilot fairness report``: how a review cycle's decisions fall across protected groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.config import get_settings
from cardpilot.fairness.thresholds import CONFIDENCE, DEFAULT_LABEL, FOUR_FIFTHS, MIN_GROUP_ACCOUNTS

fairness_app = typer.Typer(
    help="Fairness of the limit review across protected groups (never a model input).",
    no_args_is_help=True,
)
app.add_typer(fairness_app, name="fairness")


@fairness_app.command("report")
def report(
    database: str | None = DATABASE_OPTION,
    cycle: str | None = typer.Option(
        None, "--cycle", help="Review cycle id (e.g. 2005-H2); default the latest reviewed."
    ),
    label: str = typer.Option(
        DEFAULT_LABEL, "--label", help="Outcome label for default rates and AUC."
    ),
    min_group: int = typer.Option(
        MIN_GROUP_ACCOUNTS,
        "--min-group",
        min=1,
        help="Groups with fewer accounts are reported but not flagged.",
    ),
    threshold: float = typer.Option(
        FOUR_FIFTHS, "--threshold", min=0.0, max=1.0, help="Flag adverse impact ratios under it."
    ),
    locale: str | None = typer.Option(
        None, "--locale", help="zh-CN or en; default CARDPILOT_LOCALE (zh-CN)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the report as HTML here."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Per protected attribute (sex, marital status, age band) and group: shares of increases
    and decreases, adverse impact ratios, default rate by grade and the model's AUC."""
    # Here rather than at the top: the report's libraries (scikit-learn, Altair) take longer to
    # load than most commands take to run, and every command would pay for them.
    from cardpilot.fairness.cycle import FairnessError, cycle_fairness_report
    from cardpilot.fairness.html import write_fairness_report
    from cardpilot.fairness.report import ReportOptions

    options = ReportOptions(
        min_group_accounts=min_group,
        threshold=threshold,
        confidence=CONFIDENCE,
        locale=locale or get_settings().locale,
    )
    try:
        result = cycle_fairness_report(open_engine(database), cycle, label=label, options=options)
    except FairnessError as exc:
        raise fail(str(exc)) from exc
    if out is not None:
        written = write_fairness_report(result, out)
        (err_console if as_json else console).print(f"HTML report written to {written}")
    if as_json:
        print_json("fairness report", result)
        return
    print_report(result)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_report(result: dict[str, Any]) -> None:
    from cardpilot.fairness.html import TEXTS

    t = TEXTS["zh" if result["locale"].lower().startswith("zh") else "en"]
    console.print(
        f"[bold]{t['title']}[/] · {t['cycle']} {result['cycle_id']} · "
        f"{t['accounts']} {result['accounts']:,} · {t['label']} {result['label']}"
    )
    if not result["complete"]:
        console.print(f"[red]{t['incomplete']}[/]")
    for attribute in result["attributes"]:
        # Short headings: the nine columns fit an 80-column terminal.
        table = titled_table(
            t["group"],
            t["accounts"],
            t["increase_share"],
            t["decrease_share"],
            "AIR↑",
            "AIR↓",
            t["default_rate"],
            "AUC",
            "",
            title=attribute["name"],
        )
        for g in attribute["groups"]:
            mark = "[red]✗[/]" if g["flagged"] else "·" if g["small"] else ""
            table.add_row(
                g["name"],
                f"{g['accounts']:,}",
                _pct(g["increase_share"]),
                _pct(g["decrease_share"]),
                _num(g["air_increase"]),
                _num(g["air_decrease"]),
                _pct(g["default_rate"]),
                _num(g["auc"], 3),
                mark,
            )
        console.print(table)
    console.print(
        f"✗ = {t['flagged']} ({result['air_threshold']}); "
        f"· = {t['small']} (< {result['min_group_accounts']})"
    )
    console.print(t["flagged_list"] + ":" if result["flagged"] else t["none_flagged"])
    for f in result["flagged"]:
        console.print(f"  {f['name']}: {t[f['measure']]} {f['air']}")
