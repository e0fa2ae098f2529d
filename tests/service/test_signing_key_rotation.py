"""Rotating the token signing key of the home folder's key file: the new key signs, the one
before still verifies the tokens it signed until they have expired, older keys are dropped,
the configured ring is left to its configuration, and every rotation is audited."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings, get_settings
from cardpilot.service.credentials import (
    KEY_FILE,
    CredentialError,
    SigningKeys,
    issue_token,
    rotate_key_file,
    verify_token,
)
from cardpilot.store.audit import iter_records
from cardpilot.store.db import make_engine, open_store

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


def test_the_new_key_signs_and_the_one_before_still_verifies_its_tokens(tmp_path):
    settings = Settings(home=tmp_path, token_minutes=15)
    before = SigningKeys.from_settings(settings)
    token, _ = issue_token(before, "li.na", "analyst", 15)
    rotation = rotate_key_file(settings, now=T0)
    after = SigningKeys.from_settings(settings)
    assert after.active == rotation.active == "k20261205T090000Z"
    assert rotation.kept == [before.active]
    assert verify_token(after, token).subject == "li.na"
    fresh, _ = issue_token(after, "li.na", "analyst", 15)
    assert verify_token(after, fresh).subject == "li.na"
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode & 0o077 == 0  # the owner's only


def test_a_key_is_dropped_once_every_token_it_signed_has_expired(tmp_path):
    settings = Settings(home=tmp_path, token_minutes=15)
    first = SigningKeys.from_settings(settings).active
    second = rotate_key_file(settings, now=T0).active
    soon = rotate_key_file(settings, now=T0 + dt.timedelta(minutes=5))
    assert soon.kept == [first, second]  # second's tokens, and first's, may still be live
    assert soon.retired == []
    later = rotate_key_file(settings, now=T0 + dt.timedelta(minutes=30))
    assert later.retired == [first, second]
    assert later.kept == [soon.active]
    assert list(SigningKeys.from_settings(settings).keys) == [soon.active, later.active]


def test_a_configured_ring_is_rotated_in_its_configuration_not_here(tmp_path):
    ring = Settings(home=tmp_path, jwt_keys="k1:" + "a" * 40)
    with pytest.raises(CredentialError, match="CARDPILOT_JWT_KEYS"):
        rotate_key_file(ring)
    pinned = Settings(home=tmp_path, jwt_active_key="k20261205")
    with pytest.raises(CredentialError, match="CARDPILOT_JWT_ACTIVE_KEY"):
        rotate_key_file(pinned)
    assert not (tmp_path / KEY_FILE).exists()


def test_keys_rotate_signing_rotates_and_audits_without_a_secret(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    for name in ("CARDPILOT_JWT_KEYS", "CARDPILOT_JWT_ACTIVE_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["keys", "rotate-signing", "--database", url, "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rotated = envelope_data(result.stdout)
    assert rotated["kept"] == []  # there was no key file: the first key is made
    (record,) = [r.as_json() for r in iter_records(make_engine(url))]
    assert record["action"] == "signing_key.rotate"
    assert record["payload"] == rotated
    secrets = (Path(tmp_path / "home") / KEY_FILE).read_text().split()
    assert not any(s.partition(":")[2] in str(record) for s in secrets)
