"""Fitting the generator parameters from the real UCI file (skipped when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardpilot.synth.copula import load_params
from cardpilot.synth.fit import FitError, fit_params

UCI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "uci_credit_card_default.csv"


@pytest.mark.realdata
def test_shipped_params_are_what_the_fit_produces_and_hold_only_aggregates() -> None:
    if not UCI.exists():
        pytest.skip(f"{UCI} absent (see ../shared/data/README.md)")
    fitted = json.loads(json.dumps(fit_params(UCI)))
    shipped = load_params()
    assert fitted == shipped, "params.json is stale: run python bench/fit_synth_params.py"
    assert shipped["default_rate"] == pytest.approx(0.2212)
    assert shipped["default_model"]["auc_on_real_data"] > 0.7
    correlation = np.asarray(shipped["correlation"])
    assert np.linalg.eigvalsh(correlation).min() > 0
    # No table is long enough to hold records: quantiles only on the 0.1 %..99.9 % grid.
    for variable in shipped["variables"]:
        if variable["kind"] == "continuous":
            assert len(variable["quantiles"]) == 999
            assert variable["probabilities"][0] == pytest.approx(0.001)


def test_fit_explains_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FitError, match="file not found"):
        fit_params(tmp_path / "absent.csv")
