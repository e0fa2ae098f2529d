"""Point contributions of the fixture scorecard on real UCI accounts: they add up to the score,
and the score's reason codes are the characteristics that lost the most points, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardpilot.scoring.contributions import point_contributions
from cardpilot.scoring.registry import load_model_dir
from cardpilot.scoring.scorecard import ScorecardModel

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"

pytestmark = [pytest.mark.realdata]


def test_contributions_add_up_to_the_score_and_rank_its_reasons(uci_training) -> None:
    model = load_model_dir(MODEL)
    assert isinstance(model, ScorecardModel)
    features = uci_training.features.head(300)
    scores = model.score(features)
    for i in range(features.height):
        contributions = point_contributions(model, features.slice(i, 1))
        assert len(contributions) == len(model.characteristics)
        assert sum(c.points for c in contributions) == scores["score"][i]
        assert all(c.lost == c.best - c.points >= 0 for c in contributions)
        assert [c.lost for c in contributions] == sorted(
            (c.lost for c in contributions), reverse=True
        )
        lost = [c.reason_code for c in contributions if c.lost > 0]
        assert scores["reason_codes"][i].to_list() == lost[:4]
