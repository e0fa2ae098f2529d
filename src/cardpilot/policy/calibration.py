"""A policy folder written with its score cut-offs calibrated (``cardpilot policy calibrate``).

The limits file is a document the bank's risk and compliance teams own, comments and all, so
the calibrated copy keeps it as written and changes only the lines that hold the score scale,
each grade's score band and, when a new one is given, the declared version. A file laid out so
that those lines cannot be found (block style, say) is written out whole from the calibrated
policy instead, without its comments. Either way the copy is loaded back and must equal the
calibrated policy before the call returns.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

from cardpilot.policy.loading import LIMITS_FILE, PolicyError, load_policy, policy_from_data
from cardpilot.policy.schema import Policy

_TOP_KEY = re.compile(r"^([A-Za-z_]\w*):")
_SCALE = re.compile(r"^(\s*score_scale:\s*)\{[^}#]*\}")
_CODE = re.compile(r"^\s*-\s*code:\s*['\"]?([\w-]+)")
_SCORE = re.compile(r"^(\s*-?\s*score:\s*)\{[^}#]*\}")
_VERSION = re.compile(r"^version:")
_MARK = "  # calibrated"


def with_declared_version(policy: Policy, version: str) -> Policy:
    """``policy`` released under another declared version (its content hash follows)."""
    limits = policy.limits.model_dump(mode="json", by_alias=True)
    limits["version"] = version
    return policy_from_data(limits, policy.reasons.model_dump(mode="json", by_alias=True))


def restated_limits(text: str, calibrated: Policy) -> str | None:
    """``text`` (a limits file) with the score scale, score bands and declared version of
    ``calibrated`` and every other line as it was; None when one of those lines is not in
    the flow style the shipped policies use (``score: {min: 720, max: 900}``)."""
    lp = calibrated.limits
    scale = lp.grading.score_scale
    bands = {g.code: g.score for g in lp.grades if g.score is not None}
    out: list[str] = []
    top, grade = "", ""
    found: set[str] = set()
    for line in text.splitlines():
        key = _TOP_KEY.match(line)
        if key:
            top = key.group(1)
        if top == "version" and _VERSION.match(line):
            line = f"version: {json.dumps(lp.version, ensure_ascii=False)}"
            found.add("version")
        elif top == "grading" and (m := _SCALE.match(line)):
            line = f"{m.group(1)}{{min: {scale.min}, max: {scale.max}}}{_MARK}"
            found.add("scale")
        elif top == "grades":
            if code := _CODE.match(line):
                grade = code.group(1)
            if (m := _SCORE.match(line)) and grade in bands and f"grade:{grade}" not in found:
                band = bands[grade]
                assert band is not None
                line = f"{m.group(1)}{{min: {band.min}, max: {band.max}}}{_MARK}"
                found.add(f"grade:{grade}")
        out.append(line)
    wanted = {"version", "scale"} | {f"grade:{code}" for code in bands}
    return "\n".join(out) + "\n" if found == wanted else None


def _dumped_limits(calibrated: Policy) -> str:
    data = calibrated.limits.model_dump(mode="json", by_alias=True, exclude_none=False)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def write_calibrated_policy(
    source: Path, out: Path, calibrated: Policy, header: Sequence[str]
) -> bool:
    """Copy the policy folder ``source`` to ``out`` (which must not exist) with the limits
    file restated for ``calibrated``, ``header`` (comment lines, without ``#``) on top.
    Returns True when the limits file kept its comments (see the module's docstring)."""
    if out.exists():
        raise PolicyError(f"{out}: already exists; give a new folder for the calibrated policy")
    folder = source.parent if source.is_file() else source
    original = (folder / LIMITS_FILE).read_text(encoding="utf-8")
    restated = restated_limits(original, calibrated)
    kept = restated is not None
    body = restated if restated is not None else _dumped_limits(calibrated)
    top = "".join(f"# {line}".rstrip() + "\n" for line in header)
    shutil.copytree(folder, out, ignore=shutil.ignore_patterns("__pycache__"))
    target = out / LIMITS_FILE
    target.write_text(top + "\n" + body, encoding="utf-8")
    matches = load_policy(out).limits == calibrated.limits
    if not matches and kept:
        # A line the rewrite did not reach still differs: write the policy out whole.
        kept = False
        target.write_text(top + "\n" + _dumped_limits(calibrated), encoding="utf-8")
        matches = load_policy(out).limits == calibrated.limits
    if not matches:
        shutil.rmtree(out)
        raise PolicyError(f"{out}: the written policy does not read back as calibrated")
    return kept
