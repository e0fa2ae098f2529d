"""Every limit notice of a review explains itself, on the real data and on the synthetic demo.

Each queued limit notice (``limit_change`` and ``limit_tips``) is read back: none shows a
feature name, a reason code or a bin-condition label; an increase states positive factors and
every other outcome adverse reasons; every notice names the grade; every zh-CN SMS fits two
UCS-2 parts (134 characters) and every English SMS three GSM-7 parts (459, plain ASCII), as
the SMPP channel codes them.

The real data's customers have no phone or e-mail, so their notices are queued for the app in
Chinese only: each of them is also rendered in every channel and both languages, with the
figures the review showed, and checked the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.config import get_settings
from cardpilot.notify.compose import default_composer
from cardpilot.notify.decision_notices import figure_columns, limit_notice_context
from cardpilot.notify.review import stored_limit_notices
from cardpilot.notify.sms_coding import DC_GSM7, DC_UCS2, split_sms
from cardpilot.policy.loading import default_policy_path, load_policy
from cardpilot.scoring.features import FEATURE_DICTIONARY, behaviour_features
from cardpilot.scoring.scorecard import CONDITIONAL
from cardpilot.store.frames import read_portfolio_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = FIXTURES / "models" / "uci-scorecard"
POLICY = FIXTURES / "policies" / "uci-twd-2026.11"
SMS_MAX = {"zh-CN": 134, "en": 459}
SMS_PARTS = {"zh-CN": 2, "en": 3}
SMS_CODING = {"zh-CN": DC_UCS2, "en": DC_GSM7}

# Feature names with an underscore: "age" and "education" are also plain words.
_NAMES = {f.name for f in FEATURE_DICTIONARY} | set(CONDITIONAL)
_FEATURES = frozenset(n for n in _NAMES if "_" in n)
_WORDS = re.compile(r"\w+")
# A model's other words: reason codes, and the bin conditions of the conditional
# characteristics ("（全额还款或未使用的账户）", "for an account revolving or one month late").
FORBIDDEN = re.compile(
    r"\b(RC|PF)_[A-Z_]+"
    r"|全额还款或未使用的账户|循环信用或逾期一个月的账户|逾期一个月的账户|未逾期两个月以上的账户"
    r"|for an account (that paid|revolving|one month|not two)"
)


def model_word(body: str) -> str | None:
    """A model's word in ``body``, if any: a feature name standing as a word (a whole run of
    word characters: what ``\\b(name)\\b`` matches, looked up in a set rather than searched
    for by one alternation of every name, which is slow over a hundred thousand bodies), or
    a ``FORBIDDEN`` match."""
    names = [w for w in _WORDS.findall(body) if w in _FEATURES]
    if names:
        return names[0]
    found = FORBIDDEN.search(body)
    return found.group(0) if found else None


_OUTBOX = text(
    "SELECT o.message_type, o.channel, o.locale, o.body_text, d.action, d.grade,"
    " d.reason_codes FROM notify_outbox o JOIN limit_decisions d"
    " ON o.decision_ref = 'limit_decision:' || CAST(d.id AS VARCHAR(20))"
    " WHERE o.message_type IN ('limit_change', 'limit_tips')"
)


def _labels(policy_dir: Path | None) -> dict[str, dict[str, str]]:
    policy = load_policy(policy_dir or default_policy_path())
    return {g.code: {"zh-CN": g.label.zh_cn, "en": g.label.en} for g in policy.limits.grades}


def _check_codes(action: str, codes: list[str]) -> None:
    if action == "increase":
        assert not [c for c in codes if c.startswith("RC_")], codes
    else:
        assert not [c for c in codes if c.startswith("PF_")], codes


def _check_body(body: str, channel: str, locale: str, grade_label: str) -> None:
    found = model_word(body)
    assert found is None, (found, body)
    assert grade_label in body, body
    if channel == "sms":
        assert len(body) <= SMS_MAX[locale], body
        assert "\n" not in body
        # On the wire (the SMPP channel's coding): English GSM-7 in at most 3 parts, Chinese
        # UCS-2 in at most 2.
        coding, parts = split_sms(body)
        assert (coding, len(parts) <= SMS_PARTS[locale]) == (SMS_CODING[locale], True), body
        if locale == "en":
            assert body.isascii(), body


def check_queued(url: str, labels: dict[str, dict[str, str]]) -> Counter[tuple[str, ...]]:
    """Checks every queued limit notice; returns their count by type, channel and locale."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(_OUTBOX).all()
    engine.dispose()
    seen: Counter[tuple[str, ...]] = Counter()
    for mtype, channel, locale, body, action, grade, codes in rows:
        _check_codes(action, json.loads(codes))
        assert grade is not None
        _check_body(body, channel, locale, labels[grade][locale])
        seen[(mtype, channel, locale, action)] += 1
    assert seen, "no limit notice was queued"
    return seen


def check_every_channel(url: str, policy_dir: Path, as_of: dt.date) -> int:
    """Renders every notice the review queued in every channel and both languages, with the
    figures the review showed, and checks each; returns the messages checked."""
    policy = load_policy(policy_dir)
    labels = _labels(policy_dir)
    engine = create_engine(url)
    features = behaviour_features(read_portfolio_frames(engine), as_of)
    context = limit_notice_context(policy, figure_columns(features))
    with engine.connect() as conn:
        queued = {
            r[0] for r in conn.execute(text("SELECT DISTINCT decision_ref FROM notify_outbox"))
        }
        notices = [
            n
            for n in stored_limit_notices(conn, include_keeps=True, context=context)
            if n.decision_id in queued
        ]
    engine.dispose()
    composer = default_composer()
    checked = 0
    for notice in notices:
        assert notice.basis is not None
        _check_codes(notice.action, [r.code for r in notice.reasons])
        for locale in ("zh-CN", "en"):
            label = labels[str(notice.basis.grade)][locale]
            for channel in ("sms", "app", "email"):
                body = composer.render(notice, channel, locale).body_text
                _check_body(body, channel, locale, label)
                checked += 1
    return checked


@pytest.mark.realdata
@pytest.mark.slow
def test_every_limit_notice_on_the_real_data_explains_itself(uci_store_copy: Any) -> None:
    url, home = uci_store_copy("notices-uci")
    runner = CliRunner()
    env = {"CARDPILOT_HOME": str(home)}
    steps = [
        ["review", "--as-of", "2005-10-01", "--model", str(MODEL), "--policy", str(POLICY),
         "--database", url, "--json"],
    ]  # fmt: skip
    for args in steps:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
    seen = check_queued(url, _labels(POLICY))
    by_type = Counter(k[0] for k in seen.elements())
    assert by_type["limit_change"] > 10_000
    assert by_type["limit_tips"] > 1_000
    # The catch-up reads decisions without the features: the same notices, every channel.
    assert check_every_channel(url, POLICY, dt.date(2005, 10, 1)) > 100_000


@pytest.fixture
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CARDPILOT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


@pytest.mark.slow
def test_every_limit_notice_of_the_synthetic_demo_explains_itself(demo_home: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--accounts", "400", "--seed", "7"])
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{(demo_home / 'demo.db').resolve()}"
    seen = check_queued(url, _labels(None))
    channels = {k[1] for k in seen}
    assert channels == {"sms", "app", "email"}
    assert {k[2] for k in seen} == {"zh-CN", "en"}
    assert {k[3] for k in seen} >= {"increase", "decrease"}


def test_frame_of_figures_keeps_only_the_features_statements_show() -> None:
    table = pl.DataFrame(
        {"account_id": ["1"], "utilisation_avg_6m": [0.5], "segment": ["x"], "score": [1]}
    )
    assert figure_columns(table).columns == ["account_id", "utilisation_avg_6m"]
