"""A challenger limit policy for the champion/challenger tests: a policy folder copied with
every grade's increase range 10 points higher, under its own version."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from cardpilot.policy.loading import default_policy_path


def challenger_policy(tmp_path: Path, points: int = 10, source: Path | None = None) -> Path:
    """A copy of ``source`` (default: the shipped policy folder) whose increase ranges are
    ``points`` higher."""
    source = source or default_policy_path()
    source = source.parent if source.is_file() else source
    target = tmp_path / "challenger"
    shutil.copytree(source, target)
    limits = target / "limits.yaml"
    text = limits.read_text(encoding="utf-8")

    def higher(match: re.Match[str]) -> str:
        low, high = int(match.group(1)) + points, int(match.group(2)) + points
        return f"increase_pct: {{min: {low}, max: {high}}}"

    text = re.sub(r"increase_pct: \{min: (\d+), max: (\d+)\}", higher, text)
    text = re.sub(r'^version: "([^"]+)"', r'version: "\1-challenger"', text, flags=re.M)
    limits.write_text(text, encoding="utf-8")
    return target
