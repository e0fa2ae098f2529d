"""A synthetic month (duplicates, swaps, held-back events, junk; scores that make the shipped
warning.yaml fire) replayed through the consumer's store side in batches of any size writes the
same ledger, receipts, features, interventions and outbox as the event-by-event intake did
(the features folded event by event or column-wise):
the pinned digests are those of the event-by-event consumer (one event a batch), before the
batch was decided column-wise."""

from __future__ import annotations

import pytest

from cardpilot.events import batch_features

from .replay_support import account_ids, month_lines, replay, scored_store

EVENT_BY_EVENT = {
    "decisions": "8d545aafcbda2f1e77e00bed53e91ece919c2781e1b0b8c6abd7b3337ea86540",
    "outbox": "da66101177bd4bf8454d42cefa86ddc7b1fa463147b0b05576846571c75ea702",
    "ledger": "1bb02d1df87dec0782bf8a38c388d5685fecc7f6bb09d0c6df0f6115f489625d",
    "receipts": "0172be73b532206883ba0f1980e16cd96356a222f084a43e3684e8ad7675dfb0",
    "features": "0aed38aa70fdecae2c40e6e44075e79eedb1c3b7d03ac289d424bb6f3d3f955c",
}


@pytest.mark.parametrize(("batch", "columns_from"), [(7, None), (500, None), (500, 0)])
def test_a_replayed_month_in_batches_writes_what_event_by_event_wrote(
    store_url: str, batch: int, columns_from: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if columns_from is not None:  # every batch folded column-wise, however small
        monkeypatch.setattr(batch_features, "COLUMNS_FROM", columns_from)
    accounts = account_ids(30)
    engine = scored_store(store_url, accounts)
    try:
        assert replay(engine, month_lines(accounts), batch) == EVENT_BY_EVENT
    finally:
        engine.dispose()
