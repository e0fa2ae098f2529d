"""Publishing a policy: new policy files, validated by the loaders every run uses, written as a
folder of the local policy folder (``policy_dir``) under a name not yet taken, and the
publication appended to the audit trail (``cardpilot policy publish``, ``POST /v1/policies``).

A published policy is never changed: decisions record the policy version they were made under,
so a change is a new policy under a new name (a name shipped or published before is refused;
a local policy would shadow a shipped one of its name). The files are written to a hidden
folder beside the target and renamed into place, so a policy is listed whole or not at all.
Who may publish is the permission matrix's business (the ``strategy`` role); the permission
matrix itself is not a file a policy can bring.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry, digest_text
from cardpilot.config import Settings
from cardpilot.overdue.loading import OVERDUE_FILE, OverduePolicyError, load_overdue_policy
from cardpilot.policy.cases import CASES_FILE, load_case_policy
from cardpilot.policy.catalogue import local_dir, policy_entries
from cardpilot.policy.customer import CUSTOMER_FILE, customer_version
from cardpilot.policy.loading import LIMITS_FILE, REASONS_FILE, PolicyError, load_policy
from cardpilot.store.audit import append_audit, audited_transaction, default_actor
from cardpilot.warning.policy import WARNING_FILE, WarningPolicyError, load_warning_policy

# The files a published policy may hold, in the order they are checked.
PUBLISHABLE = (LIMITS_FILE, REASONS_FILE, CASES_FILE, CUSTOMER_FILE, OVERDUE_FILE, WARNING_FILE)
MAX_FILE_CHARS = 1_000_000
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class PublishError(ValueError):
    """A policy that cannot be published: says which file or name and why."""


class PublishConflictError(PublishError):
    """Nothing wrong with the policy, but it cannot go where it should: the name is taken, or
    there is no local policy folder."""


@dataclass(frozen=True)
class PublishedPolicy:
    name: str
    path: Path
    versions: dict[str, str]  # file name -> the version a decision records

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "versions": self.versions}


def _check_name(name: str, settings: Settings) -> None:
    if not name or len(name) > 64 or not name[0].isalnum() or not set(name) <= _NAME_CHARS:
        raise PublishError(
            f"policy name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit"
        )
    taken = next((e for e in policy_entries(settings) if e.name == name), None)
    if taken is not None:
        raise PublishConflictError(
            f"policy name {name!r} is taken ({taken.source}, {taken.path}); a published policy"
            " never changes: publish the new one under a new name"
        )


def _versions(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` loaded as a run would load it; their versions."""
    has = {f: (folder / f).is_file() for f in PUBLISHABLE}
    out: dict[str, str] = {}
    checks: list[tuple[str, Callable[[], str | None]]] = []
    if has[LIMITS_FILE] or has[REASONS_FILE] or has[CASES_FILE] or has[CUSTOMER_FILE]:
        policy = load_policy(folder)
        out[LIMITS_FILE] = policy.version
        checks.append((CUSTOMER_FILE, lambda: customer_version(folder, policy)))
    if has[CASES_FILE]:
        checks.append((CASES_FILE, lambda: load_case_policy(folder).version))
    if has[OVERDUE_FILE]:
        checks.append((OVERDUE_FILE, lambda: load_overdue_policy(folder / OVERDUE_FILE).version))
    if has[WARNING_FILE]:
        checks.append((WARNING_FILE, lambda: load_warning_policy(folder / WARNING_FILE).version))
    for file, check in checks:
        version = check()
        if version is not None:
            out[file] = version
    if not out:
        raise PublishError(
            f"a policy holds {LIMITS_FILE} + {REASONS_FILE}, {OVERDUE_FILE} or {WARNING_FILE}"
        )
    return out


def publish_policy(
    db: Engine,
    name: str,
    files: Mapping[str, str],
    settings: Settings,
    *,
    actor: str | None = None,
) -> PublishedPolicy:
    """Validate ``files`` (file name -> YAML text) as a policy folder and publish it as
    ``name`` in the local policy folder; audited (``policy.publish``). ``PublishError`` says
    what is wrong, naming the file and field."""
    root = local_dir(settings)
    if root is None:
        raise PublishConflictError(
            "no local policy folder to publish into: set policy_dir in cardpilot.toml or"
            " CARDPILOT_POLICY_DIR"
        )
    unknown = sorted(set(files) - set(PUBLISHABLE))
    if unknown:
        raise PublishError(
            f"{', '.join(unknown)}: not a file a policy may hold ({', '.join(PUBLISHABLE)})"
        )
    too_long = [f for f, t in files.items() if len(t) > MAX_FILE_CHARS]
    if too_long:
        raise PublishError(f"{too_long[0]}: longer than {MAX_FILE_CHARS:,} characters")
    for file, text in files.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PublishError(f"{file}: not UTF-8 text ({exc.reason} at {exc.start})") from None
    _check_name(name, settings)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        for file, text in files.items():
            (staging / file).write_text(text, encoding="utf-8")
        try:
            versions = _versions(staging)
        except (PolicyError, OverduePolicyError, WarningPolicyError) as exc:
            raise PublishError(str(exc).replace(str(staging), name)) from None
        target = root / name
        payload = {
            "name": name,
            "versions": versions,
            "files": {f: digest_text(t) for f, t in sorted(files.items())},
        }
        with audited_transaction(db) as conn:
            append_audit(
                conn,
                AuditEntry(actor or default_actor(), "policy.publish", f"policy:{name}", payload),
            )
            if target.exists():  # published by another caller meanwhile
                raise PublishConflictError(f"policy name {name!r} is taken ({target})")
            os.rename(staging, target)  # the audit record commits after the folder is there
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return PublishedPolicy(name, target, versions)
