"""The HTTP service's permission matrix (``permissions.yaml`` of a policy folder): the roles,
the permissions that are not routes (``personal_data.unmask``) and, for every route, the roles
allowed or ``public``. One file decides every route; the service checks at start that the file
and the application name the same routes (:func:`route_mismatch`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from cardpilot.policy.base import PolicyModel, validation_message
from cardpilot.policy.files import read_yaml_file
from cardpilot.policy.loading import PolicyError, default_policy_path

PERMISSIONS_FILE = "permissions.yaml"
UNMASK = "personal_data.unmask"
PUBLIC = "public"
_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /[A-Za-z0-9_./{}-]*$")
_ROLE = r"^[a-z][a-z_]*$"


class PermissionMatrix(PolicyModel):
    """Roles, permissions and routes, validated: every role named is declared."""

    version: str = Field(min_length=1, max_length=64)
    roles: dict[str, str]
    permissions: dict[str, list[str]]
    routes: dict[str, Literal["public"] | list[str]]

    @model_validator(mode="after")
    def _known_names(self) -> PermissionMatrix:
        for role in self.roles:
            if not re.match(_ROLE, role):
                raise ValueError(f"roles: {role!r} is not a role name (lower case, _)")
        if UNMASK not in self.permissions:
            raise ValueError(f"permissions: {UNMASK} is missing (list the roles, or [])")
        for where, allowed in [
            *((f"permissions.{k}", v) for k, v in self.permissions.items()),
            *((f"routes.{k}", v) for k, v in self.routes.items() if v != PUBLIC),
        ]:
            unknown = sorted(set(allowed) - set(self.roles))
            if unknown:
                raise ValueError(f"{where}: unknown role(s) {', '.join(unknown)}")
        for route in self.routes:
            if not _ROUTE.match(route):
                raise ValueError(f"routes: {route!r} is not 'METHOD /path'")
        return self

    def allows(self, route: str, role: str) -> bool:
        """Whether ``role`` may call ``route`` (``"GET /v1/accounts"``)."""
        allowed = self.routes.get(route)
        return allowed == PUBLIC or (isinstance(allowed, list) and role in allowed)

    def is_public(self, route: str) -> bool:
        return self.routes.get(route) == PUBLIC

    def holds(self, role: str, permission: str) -> bool:
        return role in self.permissions.get(permission, [])


def route_mismatch(matrix: PermissionMatrix, declared: Iterable[str]) -> list[str]:
    """What differs between the application's routes and the matrix (empty: they agree)."""
    app_routes = set(declared)
    missing = sorted(app_routes - set(matrix.routes))
    extra = sorted(set(matrix.routes) - app_routes)
    return [f"route {r} is not in {PERMISSIONS_FILE}" for r in missing] + [
        f"{PERMISSIONS_FILE} names {r}, which the application does not have" for r in extra
    ]


def load_permissions(folder: Path | None = None) -> PermissionMatrix:
    """The ``permissions.yaml`` of a policy folder (default: the shipped one); ``PolicyError``
    names the file and field that are wrong. Its version gets the content hash appended."""
    folder = default_policy_path() if folder is None else Path(folder)
    path = folder if folder.is_file() else folder / PERMISSIONS_FILE
    data = read_yaml_file(path, PolicyError, f"the service's roles live in {PERMISSIONS_FILE}")
    try:
        matrix = PermissionMatrix.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(validation_message(str(path), exc)) from exc
    # Not ``content_digest``: this JSON keeps the default separators, so the versions the
    # service has already recorded stay the same.
    checked = json.dumps(matrix.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(checked.encode("utf-8")).hexdigest()[:12]
    return matrix.model_copy(update={"version": f"{matrix.version}+{digest}"})
