"""``cardpilot users add|disable|list`` and ``cardpilot keys create|revoke|list``: hashes only
in the store, every change audited, a bad role refused naming the roles there are."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.service.credentials import password_matches, secret_digest, split_api_key
from cardpilot.store.audit import iter_records
from cardpilot.store.db import make_engine, open_store

runner = CliRunner()


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    return url


def _cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"CARDPILOT_NEW_USER_PASSWORD": "s3cret-pass"})
    assert result.exit_code == code, result.output
    return result.stdout


def test_users_are_added_with_a_password_hash_listed_and_disabled(tmp_path):
    url = _store(tmp_path)
    _cli("users", "add", "li.na", "--role", "analyst", "--database", url)
    listed = envelope_data(_cli("users", "list", "--database", url, "--json"))["users"]
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [
        ("li.na", "analyst", False)
    ]
    db = make_engine(url)
    with db.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM service_users")).scalar_one()
    assert "s3cret-pass" not in stored
    assert password_matches(stored, "s3cret-pass")
    _cli("users", "disable", "li.na", "--database", url)
    assert envelope_data(_cli("users", "list", "--database", url, "--json"))["users"][0]["disabled"]
    actions = [r.action for r in iter_records(db)]
    assert actions == ["user.add", "user.disable"]
    db.dispose()


def test_an_unknown_role_is_refused_naming_the_roles(tmp_path):
    url = _store(tmp_path)
    result = runner.invoke(
        app,
        ["users", "add", "x", "--role", "boss", "--database", url],
        env={"CARDPILOT_NEW_USER_PASSWORD": "s3cret-pass"},
    )
    assert result.exit_code != 0
    assert "admin, strategy, analyst" in result.output


def test_a_key_is_shown_once_stored_as_a_hash_and_revoked(tmp_path):
    url = _store(tmp_path)
    made = envelope_data(_cli("keys", "create", "card-platform", "--database", url, "--json"))
    parts = split_api_key(made["key"])
    assert parts is not None
    assert parts[0] == made["key_id"]
    db = make_engine(url)
    with db.connect() as conn:
        stored = conn.execute(text("SELECT secret_sha256 FROM service_api_keys")).scalar_one()
    assert stored == secret_digest(parts[1])
    assert parts[1] not in stored
    _cli("keys", "revoke", made["key_id"], "--database", url)
    keys = envelope_data(_cli("keys", "list", "--database", url, "--json"))["keys"]
    assert keys[0]["revoked_at"] is not None
    assert "key" not in keys[0]
    assert [r.action for r in iter_records(db)] == ["key.create", "key.revoke"]
    db.dispose()


def test_the_first_admin_comes_from_the_environment_once(tmp_path):
    from cardpilot.config import Settings
    from cardpilot.policy.permissions import load_permissions
    from cardpilot.service.callers import bootstrap_admin

    db = open_store(_store(tmp_path))
    settings = Settings(home=tmp_path, admin_user="root", admin_password="first-admin-pw")
    assert bootstrap_admin(db, load_permissions(), settings) == "root"
    assert bootstrap_admin(db, load_permissions(), settings) is None
    db.dispose()
