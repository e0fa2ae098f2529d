"""The local key files are made once even when processes start at the same moment (two
pytest-xdist workers, two commands): every process gets the one key that was written, never
an empty or half-written file."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from cardpilot.privacy.keys import RING_FILE, load_or_create_local_ring
from support.key_race import ring_in_each_home

PROCESSES = 2
HOMES = 150


def test_processes_making_the_key_file_at_once_all_get_the_one_written(tmp_path: Path) -> None:
    homes = [str(tmp_path / f"home-{i}") for i in range(HOMES)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    out = context.Queue()
    workers = [
        context.Process(target=ring_in_each_home, args=(barrier, homes, out))
        for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    got = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    assert [specs for specs in got if len(specs) != HOMES] == []
    for i, home in enumerate(homes):
        written = load_or_create_local_ring(Path(home)).to_spec()
        assert {specs[i] for specs in got} == {written}, home
        assert sorted(os.listdir(home)) == [RING_FILE]  # no draft left behind
        assert (Path(home) / RING_FILE).stat().st_mode & 0o777 == 0o600
