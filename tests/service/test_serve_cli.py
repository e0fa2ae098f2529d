"""``cardpilot serve`` itself: uvicorn with two worker processes, the first admin made from
the environment, metrics collected across the workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serving import free_port

from cardpilot.store.db import open_store

pytestmark = pytest.mark.slow
CLI = Path(sys.executable).with_name("cardpilot")


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("cardpilot serve did not become ready")


def _serve(home: Path, workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    """``cardpilot serve`` on a store of its own that is not the home folder's default one,
    the first admin ``root`` made from the environment; its base URL once it is ready."""
    url = f"sqlite:///{home / 'given.db'}"
    open_store(url).dispose()
    port = free_port()
    env = {
        **os.environ,
        "CARDPILOT_HOME": str(home),
        "CARDPILOT_ADMIN_USER": "root",
        "CARDPILOT_ADMIN_PASSWORD": "first-admin-pw",
    }
    process = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--workers", str(workers), "--database", url],
        env=env,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
    except BaseException:
        process.terminate()
        raise
    return base, process


def _signed_in_as_root(base: str) -> dict[str, str]:
    reply = httpx.post(
        f"{base}/v1/auth/token", data={"username": "root", "password": "first-admin-pw"}
    )
    assert reply.status_code == 200, reply.text  # the store given holds the admin
    token = reply.json()["access_token"]
    return dict(httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"}).json())


def test_one_worker_serves_the_store_it_is_given(tmp_path):
    base, process = _serve(tmp_path, workers=1)
    try:
        assert _signed_in_as_root(base) == {"actor": "user:root", "role": "admin"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_runs_two_workers_and_signs_in_the_admin_from_the_environment(tmp_path):
    base, process = _serve(tmp_path, workers=2)
    try:
        assert _signed_in_as_root(base) == {"actor": "user:root", "role": "admin"}
        for _ in range(20):  # spread over both workers
            assert httpx.get(f"{base}/health").status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        counted = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("cardpilot_http_requests_total{") and 'route="/health"' in line
        ]
        assert sum(counted) >= 20
    finally:
        process.terminate()
        process.wait(timeout=30)
