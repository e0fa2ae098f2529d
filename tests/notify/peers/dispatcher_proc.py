"""A dispatcher process for the kill -9 test: what ``cardpilot notify worker`` / ``dispatch``
run, without importing the whole CLI (whose start-up costs seconds on a busy machine).

usage: python dispatcher_proc.py worker|once BATCH_SIZE LEASE_SECONDS [WINDOW]
(settings from env; CARDPILOT_TEST_CLOCK_OFFSET shifts the dispatcher's clock by that many
seconds, so a test can run it in daytime for the customers whatever the hour)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

from cardpilot.config import Settings
from cardpilot.notify.channels.factory import channels_from_settings
from cardpilot.notify.dispatch import Dispatcher, utcnow
from cardpilot.notify.window import DEFAULT_WINDOW
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import open_store


def main() -> None:
    mode, batch, lease = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    window = int(sys.argv[4]) if len(sys.argv) > 4 else DEFAULT_WINDOW
    settings = Settings()
    offset = dt.timedelta(seconds=float(os.environ.get("CARDPILOT_TEST_CLOCK_OFFSET", "0")))
    dispatcher = Dispatcher(
        open_store(settings.resolved_database_url()),
        channels_from_settings(settings),
        FieldCipher.from_settings(settings),
        batch_size=batch,
        window=window,
        lease_seconds=lease,
        clock=lambda: utcnow() + offset,
    )
    try:
        if mode == "worker":
            dispatcher.run_forever(poll_seconds=0.1)
        else:
            print(json.dumps(dispatcher.run_once().as_dict()))
    finally:
        dispatcher.close()


if __name__ == "__main__":
    main()
