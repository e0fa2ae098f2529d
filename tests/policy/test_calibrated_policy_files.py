"""A calibrated policy written as a folder: the limits file keeps its comments and changes only
the score scale, the score bands and the declared version; it reads back as calibrated."""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pytest

from cardpilot.policy.calibration import (
    restated_limits,
    with_declared_version,
    write_calibrated_policy,
)
from cardpilot.policy.grades import calibrate_score_cutoffs
from cardpilot.policy.loading import LIMITS_FILE, PolicyError, default_policy_path, load_policy


@pytest.fixture
def calibrated():
    scores = pl.Series(np.random.default_rng(3).normal(520, 30, 5_000).round().astype(int))
    return calibrate_score_cutoffs(load_policy(), scores, [0.3, 0.3, 0.2, 0.2])


def test_restated_limits_change_only_the_scale_and_score_bands_and_keep_every_comment(calibrated):
    original = (default_policy_path() / LIMITS_FILE).read_text(encoding="utf-8")
    restated = restated_limits(original, calibrated)
    assert restated is not None
    before, after = original.splitlines(), restated.splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 5  # the scale and four bands
    assert all(("score:" in b or "score_scale:" in b) and "# calibrated" in b for _, b in changed)
    comments = [line for line in before if line.lstrip().startswith("#")]
    assert comments == [line for line in after if line.lstrip().startswith("#")]


def test_written_policy_reads_back_as_calibrated_with_a_header(calibrated, tmp_path):
    out = tmp_path / "calibrated"
    kept = write_calibrated_policy(default_policy_path(), out, calibrated, ["calibrated here"])
    assert kept
    assert load_policy(out).version == calibrated.version
    assert (out / LIMITS_FILE).read_text(encoding="utf-8").startswith("# calibrated here\n")
    # The other files of the folder come along unchanged.
    for name in ("reasons.yaml", "overdue.yaml"):
        assert (out / name).read_bytes() == (default_policy_path() / name).read_bytes()


def test_a_limits_file_in_block_style_is_written_out_whole(calibrated, tmp_path):
    source = tmp_path / "source"
    out = tmp_path / "calibrated"
    shutil.copytree(default_policy_path(), source)
    limits = source / LIMITS_FILE
    text = limits.read_text(encoding="utf-8")
    block = "    score:\n      min: 720\n      max: 900"
    limits.write_text(text.replace("    score: {min: 720, max: 900}", block), encoding="utf-8")
    assert restated_limits(limits.read_text(encoding="utf-8"), calibrated) is None
    kept = write_calibrated_policy(source, out, calibrated, ["header"])
    assert not kept
    assert load_policy(out).limits == calibrated.limits


def test_calibrated_policy_is_never_written_over_an_existing_folder(calibrated, tmp_path):
    with pytest.raises(PolicyError, match="already exists"):
        write_calibrated_policy(default_policy_path(), tmp_path, calibrated, [])


def test_a_new_declared_version_is_written_and_hashed(calibrated, tmp_path):
    renamed = with_declared_version(calibrated, "2026.12.0-calibrated")
    assert renamed.version.startswith("2026.12.0-calibrated+")
    assert renamed.limits.grades == calibrated.limits.grades
    write_calibrated_policy(default_policy_path(), tmp_path / "p", renamed, [])
    assert load_policy(tmp_path / "p").version == renamed.version
