"""The crash-safety tests' hook: kill the job with SIGKILL at a chosen point of a chosen chunk.

``after:N`` kills the process right after the N-th chunk committed, ``before_commit:N`` inside
the N-th chunk's transaction, after everything else of it was written. Chunks count from 1, in
reading order (a chunk with nothing to write counts too).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class KillHook:
    when: str  # after | before_commit
    chunk_no: int

    @classmethod
    def from_env(cls, variable: str) -> KillHook | None:
        value = os.environ.get(variable)
        if not value:
            return None
        when, _, n = value.partition(":")
        return cls(when, int(n))

    def inside_transaction(self, chunk_no: int) -> None:
        if (self.when, self.chunk_no) == ("before_commit", chunk_no):
            os.kill(os.getpid(), signal.SIGKILL)

    def after_commit(self, chunk_no: int) -> None:
        if (self.when, self.chunk_no) == ("after", chunk_no):
            os.kill(os.getpid(), signal.SIGKILL)
