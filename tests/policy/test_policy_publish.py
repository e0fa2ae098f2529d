"""``cardpilot policy publish``: a policy folder validated and published by name into the local
policy folder, whole or not at all, never over a name taken, and audited."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings, get_settings
from cardpilot.jobs.policy_publish import PublishConflictError, PublishError, publish_policy
from cardpilot.policy.catalogue import find_policy, shipped_dir
from cardpilot.policy.loading import load_policy
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.db import make_engine, open_store

runner = CliRunner()
PUBLISHED = ("limits.yaml", "reasons.yaml", "cases.yaml", "customer.yaml", "overdue.yaml")


def _db_json(url: str) -> list[str]:
    return ["--database", url, "--json"]


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "bank-policies"
    monkeypatch.setenv("CARDPILOT_POLICY_DIR", str(root))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    return url


def test_a_folder_is_published_by_name_and_found_by_it_afterwards(tmp_path, local):
    url = _store(tmp_path)
    result = runner.invoke(
        app,
        ["policy", "publish", str(shipped_dir() / "uci-twd"), "--name", "bank-twd", *_db_json(url)],
    )
    assert result.exit_code == 0, result.output
    published = envelope_data(result.stdout)
    assert published["versions"]["limits.yaml"] == load_policy(shipped_dir() / "uci-twd").version
    assert {"limits.yaml", "overdue.yaml", "warning.yaml", "customer.yaml", "cases.yaml"} <= set(
        published["versions"]
    )
    entry = find_policy("bank-twd")
    assert entry is not None
    assert entry.source == "local"
    assert sorted(p.name for p in (local / "bank-twd").iterdir()) == sorted(
        f for f in (*PUBLISHED, "warning.yaml") if (shipped_dir() / "uci-twd" / f).is_file()
    )
    db = make_engine(url)
    (record,) = [r for r in iter_records(db) if r.action == "policy.publish"]
    assert record.subject == "policy:bank-twd"
    assert verify_chain(db)[1] is None


def test_publishing_over_a_name_taken_fails_and_changes_nothing(tmp_path, local):
    url = _store(tmp_path)
    args = ["policy", "publish", str(shipped_dir() / "default"), "--database", url]
    assert runner.invoke(app, [*args, "--name", "bank-a"]).exit_code == 0
    before = (local / "bank-a" / "limits.yaml").read_text(encoding="utf-8")
    again = runner.invoke(app, [*args, "--name", "bank-a"])
    assert again.exit_code != 0
    assert "taken" in again.output
    shipped = runner.invoke(app, [*args, "--name", "uci-twd"])
    assert shipped.exit_code != 0
    assert (local / "bank-a" / "limits.yaml").read_text(encoding="utf-8") == before
    assert not (local / "uci-twd").exists()


def test_an_invalid_file_is_named_and_leaves_no_folder_behind(tmp_path, local):
    folder = shutil.copytree(shipped_dir() / "default", tmp_path / "draft")
    text = (folder / "overdue.yaml").read_text(encoding="utf-8")
    (folder / "overdue.yaml").write_text(text.replace("currency: CNY", "currency: [x]", 1))
    db = make_engine(_store(tmp_path))
    files = {f.name: f.read_text(encoding="utf-8") for f in folder.glob("*.yaml")}
    files.pop("permissions.yaml")
    files.pop("events.yaml")
    files.pop("simulation.yaml")
    with pytest.raises(PublishError, match=r"overdue\.yaml"):
        publish_policy(db, "bank-b", files, Settings(policy_dir=local))
    assert [p.name for p in local.iterdir()] == []
    assert list(iter_records(db)) == []


def test_no_local_policy_folder_is_a_conflict_that_says_what_to_set(tmp_path):
    db = make_engine(_store(tmp_path))
    files = {"overdue.yaml": (shipped_dir() / "default" / "overdue.yaml").read_text()}
    with pytest.raises(PublishConflictError, match="policy_dir"):
        publish_policy(db, "bank-c", files, Settings(policy_dir=None))


def test_text_that_is_no_policy_or_no_utf8_is_refused_naming_the_file(tmp_path):
    db = make_engine(_store(tmp_path))
    settings = Settings(policy_dir=tmp_path / "local")
    for file in ("limits.yaml", "overdue.yaml", "warning.yaml"):
        for text in ("", "- a", "a: [", "\x00", "&a [*a]", "a: \ud800"):
            with pytest.raises(PublishError, match=file.replace(".", r"\.")):
                publish_policy(db, "bank-d", {file: text}, settings)
    assert list(iter_records(db)) == []
