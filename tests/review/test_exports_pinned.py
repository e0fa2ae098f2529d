"""Restructuring the code must not change a decision: the exports of a review and an overdue
treatment on the real UCI data are pinned by their SHA-256 digests.

The model (tests/fixtures/models/uci-scorecard, a scorecard trained by ``cardpilot model train
--format uci``) and the policy (tests/fixtures/policies/uci-twd-2026.11, the ``uci-twd`` files
as they stood when the digests were recorded) are frozen copies, so the digests move only when
the code's behaviour does. A deliberate change of behaviour records new digests here, with the
reason in the commit message.

The fixture policy is kept in the old overdue condition syntax (it loads through the shim), and
the same digests come out of its copy migrated by ``cardpilot policy migrate``: a migration
changes how the rules are written, never a decision or the recorded policy version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.policy.migration import migrate_policy_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = FIXTURES / "models" / "uci-scorecard"
POLICY = FIXTURES / "policies" / "uci-twd-2026.11"

REVIEW_CSV_SHA256 = "8ac84aff6f2449366517a98befc5dea2d45f3fda6bf5cf8c2896e3ab24c0a1bc"
# The review's decreases wait out their notice period, so a treatment on the review's day still
# sees the limits in force that day.
TREAT_CSV_SHA256 = "92710aeabf0664642fb1b86d8fd85d629097a15af1bf12317a749c38155d8343"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module", params=["old-syntax fixture", "migrated copy"])
def exports(
    request: pytest.FixtureRequest, uci_store_copy: Callable[[str], tuple[str, Path]]
) -> dict[str, Path]:
    url, home = uci_store_copy("pinned")
    policy = POLICY
    if request.param == "migrated copy":
        policy = migrate_policy_folder(POLICY, home / "policy").target
    runner = CliRunner()
    env = {"CARDPILOT_HOME": str(home)}
    steps = [
        ["review", "--as-of", "2005-10-01", "--model", str(MODEL), "--policy", str(policy),
         "--out", str(home / "review.csv"), "--database", url, "--json"],
        ["overdue", "treat", "--as-of", "2005-10-01", "--model", str(MODEL), "--policy",
         str(policy), "--out", str(home / "treat.csv"), "--database", url, "--json"],
    ]  # fmt: skip
    for args in steps:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        envelope_data(result.stdout)
    return {"review": home / "review.csv", "treat": home / "treat.csv"}


def test_review_export_on_real_data_matches_its_pinned_digest(exports: dict[str, Path]) -> None:
    assert _sha256(exports["review"]) == REVIEW_CSV_SHA256


def test_treatment_export_on_real_data_matches_its_pinned_digest(
    exports: dict[str, Path],
) -> None:
    assert _sha256(exports["treat"]) == TREAT_CSV_SHA256
