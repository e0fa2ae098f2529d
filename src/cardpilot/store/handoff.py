"""Messages between the review and its SQLite helper processes: pickles on a pipe, with the
large frames handed off as Arrow IPC files in shared memory.

Pickling a 100,000-account chunk (~45 MB) and pushing it through a pipe costs the sender and
the receiver a copy and an encoding each; an IPC file in /dev/shm costs the sender one write
and the receiver a memory map (the pages are read where the features touch them). The pickled
message carries the file's name; the receiver unlinks the file once it has mapped it. Each
sender owns its directory and removes it when it ends; a directory left by a killed review is
removed by the next one (its process is gone).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa

HANDOFF_PREFIX = "cardpilot-review-"
# Frames of fewer rows stay in the message (tests set it to check both ways give one result).
HANDOFF_MIN_ROWS_ENV = "CARDPILOT_REVIEW_HANDOFF_MIN_ROWS"


def handoff_min_rows() -> int:
    return int(os.environ.get(HANDOFF_MIN_ROWS_ENV, "4096"))


def handoff_root() -> Path:
    """Where hand-off directories go: shared memory where there is some, else the temp dir."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def handoff_directory() -> Iterator[Path]:
    """A directory for this process's hand-off files, removed on exit (with any left over by
    review processes that were killed)."""
    root = handoff_root()
    for stale in root.glob(f"{HANDOFF_PREFIX}*"):
        pid = stale.name.removeprefix(HANDOFF_PREFIX).split("-")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{HANDOFF_PREFIX}{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _FramePickler(pickle.Pickler):
    def __init__(self, file: IO[bytes], folder: Path | None) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._folder = folder
        self._min_rows = handoff_min_rows()

    def persistent_id(self, obj: Any) -> Any:
        if self._folder is None or not isinstance(obj, pl.DataFrame) or obj.height < self._min_rows:
            return None
        path = self._folder / f"{uuid.uuid4().hex}.arrow"
        obj.write_ipc(path, compression="uncompressed")
        return ("frame", str(path))


class _FrameUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, path = pid
        if kind != "frame":
            raise pickle.UnpicklingError(f"unknown hand-off {kind!r}")
        # The mapping outlives the file's name: the frame's buffers keep it alive.
        table = pa.ipc.open_file(pa.memory_map(path)).read_all()
        os.unlink(path)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame


def send_message(stream: IO[bytes], message: Any, folder: Path | None = None) -> None:
    """One message; with ``folder``, its large frames go through hand-off files there."""
    _FramePickler(stream, folder).dump(message)
    stream.flush()


def receive_message(stream: IO[bytes]) -> Any:
    """The next message of ``stream`` (its hand-off files read and removed)."""
    return _FrameUnpickler(stream).load()
