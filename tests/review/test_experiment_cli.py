"""``cardpilot experiments`` and ``review --experiment`` from the command line, on SQLite and
PostgreSQL: the split review, the report, and a promoted challenger reviewing the next cycle."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import cardpilot.cli.review as review_cli
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.policy.loading import load_policy
from experiment_policies import challenger_policy

runner = CliRunner()


@pytest.fixture
def standin_model(monkeypatch, scorer):
    monkeypatch.setattr(review_cli, "load_scorer", lambda model, family: scorer)


def _ok(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return envelope_data(result.stdout)


@pytest.mark.usefixtures("standin_model", "english")
def test_a_split_review_its_report_and_a_promoted_challenger(loaded_store, tmp_path):
    challenger = challenger_policy(tmp_path)
    db = ["--database", loaded_store]
    created = _ok(
        [
            "experiments",
            "create",
            "cli-test",
            "--champion",
            "default",
            "--challenger",
            str(challenger),
            "--share",
            "0.25",
            "--start",
            "2026-05-01",
            *db,
        ]
    )
    assert created["status"] == "running"
    assert [t["name"] for t in _ok(["experiments", "list", *db])["experiments"]] == ["cli-test"]

    both = runner.invoke(app, ["review", "--experiment", "cli-test", "--policy", "default", *db])
    assert both.exit_code == 2
    assert "give --experiment or --policy, not both" in both.output

    review = _ok(["review", "--as-of", "2026-05-01", "--experiment", "cli-test", *db])
    assert review["experiment"] == "cli-test"
    assert review["by_arm"]["champion"] + review["by_arm"]["challenger"] == review["decided"]
    report = _ok(["experiments", "report", "cli-test", *db])
    assert report["arms"] == review["by_arm"]
    assert report["policy_versions"]["challenger"] == [load_policy(challenger).version]
    text = runner.invoke(app, ["experiments", "report", "cli-test", *db])
    assert "minimum detectable effect" in text.output

    assert _ok(["experiments", "promote", "cli-test", *db])["status"] == "promoted"
    stopped = runner.invoke(app, ["review", "--experiment", "cli-test", *db])
    assert stopped.exit_code == 2
    assert "the test is promoted" in stopped.output
    # The next cycle, no --policy: the promoted challenger reviews.
    later = _ok(["review", "--as-of", "2026-11-01", *db])
    assert later["policy_version"] == load_policy(challenger).version
    assert later.get("experiment") is None
    # A service worker started now decides by the same promoted policy.
    from cardpilot.service.state import ServiceConfig, ServiceState

    service = ServiceState.load(ServiceConfig(database_url=loaded_store))
    assert service.policy.version == load_policy(challenger).version
    service.db.dispose()


@pytest.mark.usefixtures("english")
def test_an_unknown_test_and_a_bad_share_are_refused(loaded_store):
    db = ["--database", loaded_store]
    unknown = runner.invoke(app, ["experiments", "report", "nope", *db])
    assert unknown.exit_code == 2
    assert "no test named 'nope'" in unknown.output
    bad = runner.invoke(
        app,
        [
            "experiments",
            "create",
            "t",
            "--champion",
            "default",
            "--challenger",
            "uci-twd",
            "--share",
            "1.5",
            *db,
        ],
    )
    assert bad.exit_code == 2
    assert "share" in bad.output
