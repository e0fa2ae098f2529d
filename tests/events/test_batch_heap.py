"""The consumer's garbage-collector settings hold while it decides batches and are put back."""

from __future__ import annotations

import gc

from cardpilot.stream.consumer import GC_YOUNG_THRESHOLD, batch_heap


def test_the_batch_heap_freezes_what_was_loaded_and_puts_the_collector_back() -> None:
    before = gc.get_threshold()
    with batch_heap():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
