"""Options and set-up shared by every command."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer
from rich.logging import RichHandler
from sqlalchemy import Engine

from cardpilot.cli.output import err_console, fail
from cardpilot.config import get_settings
from cardpilot.privacy.logging import install_pii_redaction

DATABASE_OPTION = typer.Option(
    None,
    "--database",
    help="Store URL (SQLAlchemy); default CARDPILOT_DATABASE_URL or the embedded SQLite file.",
    envvar="CARDPILOT_DATABASE_URL",
    show_envvar=True,
)


LIMITS_POLICY_OPTION = typer.Option(
    None,
    "--policy",
    help="Limit policy by name (`cardpilot policy list`) or folder (limits.yaml +"
    " reasons.yaml); default: the shipped one.",
)
OVERDUE_POLICY_OPTION = typer.Option(
    None,
    "--policy",
    help="Overdue policy by name (`cardpilot policy list`), folder or overdue.yaml;"
    " default: the shipped one.",
)
EXPERIMENT_OPTION = typer.Option(
    None,
    "--experiment",
    help="A running champion/challenger test (cardpilot experiments): its challenger decides"
    " its share of the accounts, its champion the rest.",
)


def experiment_policies(
    url: str, experiment: str | None, policy: str | None, kind: str
) -> tuple[Any, str | None]:
    """The test's two loaded policies (``--experiment``), or None and the ``--policy`` to use:
    as given, else the challenger of the store's last promoted test of ``kind``, else None
    (the shipped policy)."""
    from cardpilot.batch.experiment_arms import ExperimentError, limit_arms, treatment_arms
    from cardpilot.store.db import make_engine
    from cardpilot.store.experiments import promoted_policy

    if experiment is not None and policy is not None:
        raise fail("give --experiment or --policy, not both: a test names its own policies")
    db = make_engine(url)
    try:
        if experiment is not None:
            try:
                arms = (limit_arms if kind == "limits" else treatment_arms)(db, experiment)
            except ExperimentError as exc:
                raise fail(str(exc)) from None
            return arms, None
        if policy is None:
            promoted = promoted_policy(db, kind)
            if promoted is not None:
                return None, promoted.challenger
        return None, policy
    finally:
        db.dispose()


def policy_path(value: str | Path | None, kind: str | None = None) -> Path | None:
    """``--policy NAME|PATH`` as a path (``None``: the command's default policy)."""
    from cardpilot.policy.catalogue import UnknownPolicyError, resolve_policy

    try:
        return resolve_policy(value, kind=kind, settings=get_settings())
    except UnknownPolicyError as exc:
        raise fail(str(exc)) from None


# The commands that may make a store where there is none; every other one refuses a URL with
# no store instead of leaving an empty one (and folders) behind.
STORE_MAKERS = frozenset({"import", "generate", "demo", "db"})


def database_url(database: str | None) -> str:
    """The store's URL, checked: a command that does not make stores needs one to be there."""
    from cardpilot.store.db import require_store

    url = database or get_settings().resolved_database_url()
    if not makes_stores():
        require_store(url)
    return url


def makes_stores() -> bool:
    """Whether the command running now is one of ``STORE_MAKERS`` (true outside a command)."""
    from cardpilot.cli.errors import Running

    return Running.name is None or Running.name in STORE_MAKERS


def open_engine(database: str | None) -> Engine:
    """The store at ``database`` (or the configured one), migrated to the current schema."""
    from cardpilot.store.db import open_store

    return open_store(database_url(database))


def configure_logging(level: str | None = None) -> None:
    """Logs go to stderr through Rich, and every record passes the personal-data redaction."""
    root = logging.getLogger()
    if any(isinstance(h, RichHandler) for h in root.handlers):
        return
    handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
    root.addHandler(handler)
    root.setLevel(level or get_settings().log_level)
    # Alembic announces its plugins at INFO on every start; only its warnings matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    install_pii_redaction(root)


def check_key_settings() -> None:
    """Personal-data keys set in the environment or config are checked before any command runs:
    a ring of several keys without a named active key, or naming one not on it, ends here in
    one line instead of in the middle of an import."""
    from cardpilot.privacy import BlindIndexKey, KeyRing, PiiKeyError

    settings = get_settings()
    try:
        if settings.pii_keys:
            KeyRing.parse(settings.pii_keys, settings.pii_active_key)
        if settings.blind_index_key:
            BlindIndexKey.parse(settings.blind_index_key)
    except PiiKeyError as exc:
        raise fail(str(exc)) from None
