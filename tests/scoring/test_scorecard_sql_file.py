"""A scorecard's SQL expression is written beside it through the store (the registry, in the
scoring layer, writes no SQL)."""

from __future__ import annotations

from pathlib import Path

from cardpilot.scoring.registry import load_model_dir, save_model_dir
from cardpilot.store.scorecard_sql import scorecard_sql, write_scorecard_sql

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"


def test_a_scorecard_folder_gets_its_sql_expression_from_the_store(tmp_path: Path) -> None:
    model = load_model_dir(MODEL)
    folder = save_model_dir(model, {"family": "scorecard"}, tmp_path / "m")
    assert not (folder / "scorecard.sql").exists()
    written = write_scorecard_sql(model, folder)
    assert written == folder / "scorecard.sql"
    assert written.read_text(encoding="utf-8") == scorecard_sql(model) + "\n"


def test_a_model_without_a_points_table_gets_no_sql_file(tmp_path: Path) -> None:
    assert write_scorecard_sql(object(), tmp_path) is None
    assert not (tmp_path / "scorecard.sql").exists()
