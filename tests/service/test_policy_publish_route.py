"""Publishing a policy through the service: validated as a run loads it and listed by name
afterwards, a wrong field named with its file, a name taken (shipped or published) refused,
the permission matrix not a file a policy may bring, and every publication audited."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from service_support import Service

from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.loading import load_policy
from cardpilot.store.audit import iter_records

SHIPPED = shipped_dir() / "default"


def _files(*names: str) -> dict[str, str]:
    return {n: (SHIPPED / n).read_text(encoding="utf-8") for n in names}


def _publish(service: Service, body: dict[str, Any], role: str = "strategy") -> httpx.Response:
    return httpx.post(
        f"{service.url}/v1/policies", json=body, headers=service.headers[role], timeout=60
    )


def _name() -> str:
    return f"bank-{uuid.uuid4().hex[:8]}"


def test_a_published_policy_is_listed_by_name_with_the_versions_a_run_records(service):
    name = _name()
    reply = _publish(service, {"name": name, "files": _files("limits.yaml", "reasons.yaml")})
    assert reply.status_code == 201, reply.text
    assert reply.json()["versions"] == {"limits.yaml": load_policy(SHIPPED).version}
    listed = httpx.get(f"{service.url}/v1/policies", headers=service.headers["analyst"]).json()
    (entry,) = [p for p in listed["policies"] if p["name"] == name]
    assert entry["source"] == "local"
    shown = httpx.get(f"{service.url}/v1/policies/{name}", headers=service.headers["analyst"])
    assert shown.json()["version"] == load_policy(SHIPPED).version


def test_overdue_and_warning_files_publish_with_their_own_versions(service):
    reply = _publish(service, {"name": _name(), "files": _files("overdue.yaml", "warning.yaml")})
    assert reply.status_code == 201, reply.text
    assert sorted(reply.json()["versions"]) == ["overdue.yaml", "warning.yaml"]


def test_a_wrong_field_is_named_with_its_file_and_nothing_is_published(service):
    files = _files("limits.yaml", "reasons.yaml")
    files["limits.yaml"] = files["limits.yaml"].replace("currency: CNY", "currency: 12", 1)
    name = _name()
    reply = _publish(service, {"name": name, "files": files})
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert "limits.yaml" in reply.json()["detail"]
    assert "currency" in reply.json()["detail"]
    listed = httpx.get(f"{service.url}/v1/policies", headers=service.headers["admin"]).json()
    assert name not in {p["name"] for p in listed["policies"]}
    assert [p.name for p in (service.home / "policies").iterdir() if p.name.startswith(".")] == []


def test_a_name_shipped_or_published_before_is_refused(service):
    files = _files("limits.yaml", "reasons.yaml")
    assert _publish(service, {"name": "default", "files": files}).status_code == 409
    name = _name()
    assert _publish(service, {"name": name, "files": files}).status_code == 201
    again = _publish(service, {"name": name, "files": files})
    assert again.status_code == 409
    assert "never changes" in again.json()["detail"]


def test_the_permission_matrix_is_not_a_file_a_policy_may_bring(service):
    files = {"permissions.yaml": (SHIPPED / "permissions.yaml").read_text(encoding="utf-8")}
    reply = _publish(service, {"name": _name(), "files": files})
    assert reply.status_code == 422
    assert "permissions.yaml" in reply.json()["detail"]
    assert list((service.home / "policies").glob("*/permissions.yaml")) == []


def test_text_that_is_no_policy_is_refused_with_a_reason(service):
    for text in ("[1, 2, 3]", "version: 1\n", "::: not yaml", "a: !!python/object:os.system x"):
        reply = _publish(service, {"name": _name(), "files": {"limits.yaml": text}})
        assert reply.status_code == 422, (text, reply.text)


def test_every_publication_is_audited_with_who_and_the_file_digests(service):
    name = _name()
    assert _publish(service, {"name": name, "files": _files("overdue.yaml")}).status_code == 201
    db = service.state.db  # type: ignore[attr-defined]
    (record,) = [r.as_json() for r in iter_records(db) if r.subject == f"policy:{name}"]
    assert (record["action"], record["actor"]) == ("policy.publish", "user:strategy-1")
    assert list(record["payload"]["files"]) == ["overdue.yaml"]
    assert len(record["payload"]["files"]["overdue.yaml"]) == 64
