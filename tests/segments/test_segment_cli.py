"""``cardpilot segments cluster | profile``: the store (SQLite and PostgreSQL), a UCI file and
the real UCI data."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

runner = CliRunner()


def _run(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["segments", *args, "--json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = envelope_data(result.stdout)
    return payload


def _summary(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (c["code"], c["name_en"], c["accounts"], c["default_rate"], c["policy_segment"])
        for c in payload["clusters"]
    ]


def test_the_store_and_the_file_give_the_same_clusters(store_url, sample_csv, tmp_path):
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio

    csv_path, _ = sample_csv
    import_portfolio(
        csv_path, layout="uci", database_url=store_url, settings=Settings(home=tmp_path)
    )
    stored = _run("cluster", "--database", store_url, "--out", str(tmp_path / "store"))
    filed = _run(
        "cluster", "--format", "uci", "--data", str(csv_path), "--out", str(tmp_path / "file")
    )
    assert stored["clustering_version"] == filed["clustering_version"]
    assert _summary(stored) == _summary(filed)
    assert stored["accounts"] == 400
    assert stored["k"] == 4
    assert stored["policy_version"].startswith("2026.11.0-uci-twd")  # TWD accounts
    assert stored["label"] == "default_next_month"
    assert sum(c["accounts"] for c in stored["clusters"]) == 400

    # A saved clustering profiles the store again without refitting: the same figures.
    again = _run(
        "profile",
        "--clustering",
        str(tmp_path / "store"),
        "--database",
        store_url,
        "--out",
        str(tmp_path / "again"),
    )
    assert _summary(again) == _summary(stored)
    assert "clustering" not in again["files"]
    assignments = pl.read_parquet(again["files"]["assignments"])
    assert assignments.columns == [
        "account_id",
        "cluster",
        "cluster_code",
        "cluster_name_en",
        "cluster_name_zh",
        "policy_segment",
    ]
    assert assignments.height == 400
    html = Path(again["files"]["profile_html"]).read_text(encoding="utf-8")
    assert "Clusters × policy segments" in html


@pytest.mark.usefixtures("english")
def test_the_command_refuses_what_it_cannot_use_and_says_what_to_do(sample_csv, tmp_path):
    from cardpilot.policy.loading import default_policy_path

    csv_path, _ = sample_csv
    cases = [
        (["cluster", "--format", "uci"], "needs --data"),
        (["cluster", "--format", "xls"], "use store or uci"),
        (["cluster", "--format", "uci", "--data", str(csv_path), "--k-range", "1-3"], "LOW"),
        (
            [
                "cluster",
                "--format",
                "uci",
                "--data",
                str(csv_path),
                "--policy",
                str(default_policy_path()),
            ],
            "uci-twd",
        ),
        (["profile", "--clustering", str(tmp_path / "none.json")], "segments cluster"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["segments", *args, "--out", str(tmp_path / "x")])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output.replace("\n", " "), (args, result.output)


@pytest.mark.realdata
@pytest.mark.slow
def test_clusters_of_the_real_uci_data_separate_default_risk(uci_path, tmp_path):
    out = tmp_path / "uci"
    payload = _run("cluster", "--format", "uci", "--data", str(uci_path), "--out", str(out))
    assert payload["accounts"] == 30_000
    assert payload["as_of"] == "2005-10-01"
    assert 3 <= payload["k"] <= 8
    assert payload["k_selection"]["method"] == "silhouette"
    clusters = payload["clusters"]
    assert abs(sum(Decimal(c["share"]) for c in clusters) - 1) < Decimal("1e-5")
    assert Decimal(payload["overall"]["default_rate"]) == Decimal("0.2212")  # 6,636 of 30,000
    rates = [Decimal(c["default_rate"]) for c in clusters]
    assert max(rates) > 2 * min(rates)
    riskiest = clusters[rates.index(max(rates))]
    assert riskiest["policy_segment"] == "under_strain"
    assert "overdue" in riskiest["name_en"]
    assert any(c["policy_segment"] == "dormant" for c in clusters)
    assert payload["currency"] == "TWD"
    medians = [Decimal(c["features"]["spend_avg_6m"]["median"]) for c in clusters]
    assert medians == sorted(medians)
    assert "sex" not in json.dumps(payload["clustered_on"])
    for name in ("clustering", "assignments", "profile_json", "profile_html"):
        assert Path(payload["files"][name]).exists()
    html = Path(payload["files"]["profile_html"]).read_text(encoding="utf-8")
    assert "30,000" in html
    assert riskiest["name_zh"] in html
    again = _run(
        "profile",
        "--clustering",
        str(out),
        "--format",
        "uci",
        "--data",
        str(uci_path),
        "--out",
        str(tmp_path / "again"),
    )
    assert _summary(again) == _summary(payload)


class _StandInScorer:
    """Scores by utilisation (lower is safer): enough to see the figures flow through."""

    version = "standin-1"

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        util = features.get_column("utilisation_avg_6m").fill_null(0.0).clip(0.0, 1.0)
        return pl.DataFrame(
            {
                "account_id": features.get_column("account_id"),
                "score": (600 - 100 * util).round(0),
                "pd": 0.01 + 0.5 * util,
            }
        )


def test_a_model_adds_mean_score_and_pd_per_cluster(monkeypatch, sample_csv, tmp_path):
    import cardpilot.cli.segments as segments_cli

    asked: list[tuple[Path, str]] = []

    def load(model: Path, family: str) -> _StandInScorer:
        asked.append((model, family))
        return _StandInScorer()

    monkeypatch.setattr(segments_cli, "load_scorer", load)
    csv_path, _ = sample_csv
    payload = _run(
        "cluster",
        "--format",
        "uci",
        "--data",
        str(csv_path),
        "--k",
        "4",
        "--model",
        str(tmp_path / "models"),
        "--out",
        str(tmp_path / "out"),
    )
    assert asked == [(tmp_path / "models", "scorecard")]
    assert payload["model_version"] == "standin-1"
    scores = [Decimal(c["score_mean"]) for c in payload["clusters"]]
    assert all(400 <= s <= 600 for s in scores)
    # The cluster using most of its limit scores worst.
    utilisation = [
        Decimal(c["features"]["utilisation_avg_6m"]["mean"]) for c in payload["clusters"]
    ]
    assert scores.index(min(scores)) == utilisation.index(max(utilisation))
    assert all(
        Decimal("0.01") <= Decimal(c["pd_mean"]) <= Decimal("0.51") for c in payload["clusters"]
    )
    assert "mean score" in Path(payload["files"]["profile_html"]).read_text(encoding="utf-8")
