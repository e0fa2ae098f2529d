"""``cardpilot serve`` (the HTTP decision service) and its callers: ``cardpilot users
add|disable|list`` and ``cardpilot keys create|revoke|list|rotate-signing`` (docs/service.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, database_url, open_engine
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table

users_app = typer.Typer(help="Staff who sign in to the HTTP service.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the bank's systems.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

if TYPE_CHECKING:
    from cardpilot.policy.permissions import PermissionMatrix

ROLE_HELP = "admin, strategy, analyst, agent, auditor or system (permissions.yaml)."


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(2, "--workers", min=1, help="Worker processes."),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder (default: the registry's scorecard champion)."
    ),
    policy: str | None = typer.Option(
        None, "--policy", help="Limit policy by name or folder (default: the shipped one)."
    ),
    overdue_policy: str | None = typer.Option(
        None, "--overdue-policy", help="Overdue policy by name or folder (plan quotes)."
    ),
    database: str | None = DATABASE_OPTION,
) -> None:
    """Serve the decision API (OpenAPI at /openapi.json) under uvicorn."""
    from cardpilot.service.server import prepare
    from cardpilot.service.server import serve as run_server
    from cardpilot.service.state import ServiceConfig

    config = ServiceConfig(
        database_url=database_url(database),
        model=model,
        policy=policy,
        overdue_policy=overdue_policy,
    )
    made = prepare(config)
    if made:
        err_console.print(f"made the first admin {made!r} (CARDPILOT_ADMIN_USER)")
    err_console.print(f"serving on http://{host}:{port} with {workers} workers")
    run_server(config, host=host, port=port, workers=workers)


def _matrix() -> PermissionMatrix:
    from cardpilot.policy.permissions import load_permissions

    return load_permissions()


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="The user's sign-in name."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True,
        envvar="CARDPILOT_NEW_USER_PASSWORD", help="At least 8 characters (prompted).",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Add a member of staff who signs in with a password."""
    from cardpilot.service.callers import create_user
    from cardpilot.service.credentials import CredentialError
    from cardpilot.store.service_callers import CallerExistsError

    db = open_engine(database)
    try:
        user = create_user(db, _matrix(), username, password, role)
    except (CredentialError, CallerExistsError) as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("users add", user.as_json())
        return
    console.print(f"user {user.username} added as {user.role}")


@users_app.command("disable")
def users_disable(
    username: str = typer.Argument(..., help="The user's sign-in name."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Disable a user: no new sign-in; tokens already issued end within token_minutes."""
    from cardpilot.service.callers import disable_user
    from cardpilot.service.credentials import CredentialError

    db = open_engine(database)
    try:
        disable_user(db, username)
    except CredentialError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("users disable", {"username": username, "disabled": True})
        return
    console.print(f"user {username} disabled")


@users_app.command("list")
def users_list(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The users, their roles and whether they are disabled."""
    from cardpilot.store.service_callers import list_users

    db = open_engine(database)
    try:
        users = list_users(db)
    finally:
        db.dispose()
    if as_json:
        print_json("users list", {"users": [u.as_json() for u in users]})
        return
    table = titled_table("user", "role", "disabled", "created")
    for u in users:
        j = u.as_json()
        table.add_row(u.username, u.role, "yes" if u.disabled else "", j["created_at"])
    console.print(table)


@keys_app.command("create")
def keys_create(
    name: str = typer.Argument(..., help="What the key is for, e.g. card-platform."),
    role: str = typer.Option("system", "--role", help=ROLE_HELP),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make an API key; the key is printed this once (only its hash is stored)."""
    from cardpilot.service.callers import create_key
    from cardpilot.service.credentials import CredentialError

    db = open_engine(database)
    try:
        row, token = create_key(db, _matrix(), name, role)
    except CredentialError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("keys create", row.as_json() | {"key": token})
        return
    console.print(f"key {row.key_id} ({row.role}) for {row.name}: {token}")
    console.print("keep it now: it is not stored and cannot be shown again")


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (cardpilot keys list)."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke a key (workers stop accepting it within 30 seconds)."""
    from cardpilot.service.callers import revoke_key
    from cardpilot.service.credentials import CredentialError

    db = open_engine(database)
    try:
        revoke_key(db, key_id)
    except CredentialError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("keys revoke", {"key_id": key_id, "revoked": True})
        return
    console.print(f"key {key_id} revoked")


@keys_app.command("list")
def keys_list(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The keys (ids, names, roles, revoked or not); never their secrets."""
    from cardpilot.store.service_callers import list_api_keys

    db = open_engine(database)
    try:
        keys = list_api_keys(db)
    finally:
        db.dispose()
    if as_json:
        print_json("keys list", {"keys": [k.as_json() for k in keys]})
        return
    table = titled_table("key", "name", "role", "created", "revoked")
    for k in keys:
        j = k.as_json()
        table.add_row(k.key_id, k.name, k.role, j["created_at"], j["revoked_at"] or "")
    console.print(table)


@keys_app.command("rotate-signing")
def keys_rotate_signing(
    database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Make a new token signing key the active one in the home folder's key file; keys whose
    tokens have all expired are dropped. Restart the service afterwards."""
    from cardpilot.config import get_settings
    from cardpilot.service.callers import rotate_signing_key
    from cardpilot.service.credentials import CredentialError

    db = open_engine(database)
    try:
        rotation = rotate_signing_key(db, get_settings())
    except CredentialError as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    if as_json:
        print_json("keys rotate-signing", rotation.as_json())
        return
    console.print(
        f"signing key {rotation.active} active; still verifying: {', '.join(rotation.kept) or '-'}"
        f"; dropped: {', '.join(rotation.retired) or '-'}. Restart cardpilot serve."
    )
