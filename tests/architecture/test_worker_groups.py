"""``make test`` runs two pytest-xdist workers with ``--dist loadgroup``: a file's tests (and the
tests of a costly session fixture) must reach one worker, or its module fixtures are made on
both at once and the two copies crawl side by side on two cores."""

from __future__ import annotations

import os

import pytest


def test_a_test_carries_its_group_to_the_scheduler(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") or not request.config.getvalue("loadgroup"):
        pytest.skip("only under pytest-xdist with --dist loadgroup")
    # The scheduler groups by the ``@group`` suffix the worker adds to a node id.
    assert request.node.nodeid.endswith("@tests/architecture/test_worker_groups.py")
