"""``cardpilot serve``: uvicorn with several worker processes over ``app.app_from_env``.

The options reach the workers through the environment (``ServiceConfig.environment``); with
several workers Prometheus metrics are collected across them in a folder of their own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from cardpilot.config import get_settings
from cardpilot.policy.permissions import load_permissions
from cardpilot.service.callers import bootstrap_admin
from cardpilot.service.state import ServiceConfig
from cardpilot.store.db import open_store

FACTORY = "cardpilot.service.app:app_from_env"
WORKER_START_SECONDS = 120


def prepare(config: ServiceConfig) -> str | None:
    """The store upgraded and the first admin made (once, before the workers start);
    returns the admin's name when one was made."""
    db = open_store(config.database_url)
    try:
        return bootstrap_admin(db, load_permissions(config.permissions), get_settings())
    finally:
        db.dispose()


def serve(config: ServiceConfig, *, host: str, port: int, workers: int) -> None:
    os.environ.update(config.environment())
    # With one worker uvicorn runs the application in this process, whose settings were read
    # (and cached) before the variables above were set: it must read them again.
    get_settings.cache_clear()
    # A request works on one account: Polars' thread pool costs more than it gives there, and
    # the workers already keep the cores busy.
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    metrics_dir = Path(tempfile.mkdtemp(prefix="cardpilot-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=get_settings().log_level.lower(),
            access_log=False,
            proxy_headers=False,
            # A worker loads the model, policies and the scientific stack before it answers
            # the supervisor's health check: on a busy machine that takes more than the
            # default 5 s, and a worker still starting would be killed as hung.
            timeout_worker_healthcheck=WORKER_START_SECONDS,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
