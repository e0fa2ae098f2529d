"""A dispatcher process for the kill -9 test: what ``cardpilot notify worker`` / ``dispatch``
run, without importing the whole CLI (whose start-up costs seconds on a busy machine).

usage: python dispatcher_proc.py worker|once BATCH_SIZE LEASE_SECONDS  (settings from env)
"""

from __future__ import annotations

import json
import sys

from cardpilot.config import Settings
from cardpilot.notify.channels.factory import channels_from_settings
from cardpilot.notify.dispatch import Dispatcher
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import open_store


def main() -> None:
    mode, batch, lease = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    settings = Settings()
    dispatcher = Dispatcher(
        open_store(settings.resolved_database_url()),
        channels_from_settings(settings),
        FieldCipher.from_settings(settings),
        batch_size=batch,
        lease_seconds=lease,
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
