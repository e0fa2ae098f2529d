"""Vectorised scorecard scoring: points and the top reasons for millions of accounts a second.

The scorecard is a table, so scoring is look-ups: per characteristic the bin index is the count
of split points ``<= x`` (a few vectorised comparisons beat ``searchsorted`` for the handful of
splits a scorecard has; NaN goes to the missing bin after the last interval), then one gather of
a precomputed *reason key* per bin, and a running top-4 of those keys. Points follow from the
keys: a bin's points are the characteristic's maximum minus its shortfall. A reason key packs
the points short of the characteristic's maximum (high bits) with the characteristic's fixed
rank (low bits), so the largest key is the largest shortfall and ties go to the earlier
characteristic; a zero shortfall has key 0 and is never a reason. Work runs in cache-sized
chunks on a thread pool (NumPy releases the GIL).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MAX_REASONS = 4
CHUNK_ROWS = 1 << 16


@dataclass(frozen=True)
class CompiledCharacteristic:
    name: str
    splits: npt.NDArray[np.float64]  # ascending split points
    points: npt.NDArray[np.int32]  # per bin; the last entry is the missing bin
    keys: npt.NDArray[np.uint16] | npt.NDArray[np.uint32]
    max_points: int

    def bins(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Each value's bin: the number of splits ``<= x``; NaN the missing bin (the last)."""
        idx = np.searchsorted(self.splits, values, side="right")
        idx[np.isnan(values)] = len(self.splits) + 1
        return idx


@dataclass(frozen=True)
class CompiledScorecard:
    characteristics: tuple[CompiledCharacteristic, ...]
    rank_bits: int

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.characteristics]


def compile_scorecard(
    names: list[str], splits: list[npt.NDArray[np.float64]], points: list[npt.NDArray[np.int32]]
) -> CompiledScorecard:
    """``points[i]`` has ``len(splits[i]) + 2`` entries: one per interval, then missing."""
    m = len(names)
    rank_bits = max(1, int(np.ceil(np.log2(m + 1))))
    max_short = max(int(p.max() - p.min()) for p in points) if points else 0
    wide = (max_short + 1) << rank_bits >= 1 << 16
    dtype: type[np.unsignedinteger] = np.uint32 if wide else np.uint16
    compiled = []
    for i, (name, s, p) in enumerate(zip(names, splits, points, strict=True)):
        if len(p) != len(s) + 2:
            raise ValueError(f"{name}: {len(p)} points for {len(s)} splits")
        shortfall = (p.max() - p).astype(np.int64)
        rank = (1 << rank_bits) - 1 - i  # earlier characteristic wins a tie
        keys = np.where(shortfall > 0, (shortfall << rank_bits) | rank, 0).astype(dtype)
        compiled.append(
            CompiledCharacteristic(
                name,
                np.asarray(s, dtype=np.float64),
                np.asarray(p, dtype=np.int32),
                keys,
                int(p.max()),
            )
        )
    return CompiledScorecard(tuple(compiled), rank_bits)


def _bin_index(
    x: npt.NDArray[np.float64],
    splits: npt.NDArray[np.float64],
    out: npt.NDArray[np.uint8],
    hit: npt.NDArray[np.bool_],
) -> None:
    """``out[i]`` = number of splits ``<= x[i]``; ``len(splits) + 1`` (missing) for NaN.

    ``hit`` is a scratch buffer as long as ``x``."""
    out[:] = 0
    for v in splits:
        np.greater_equal(x, v, out=hit)
        out += hit.view(np.uint8)
    # NaN compares False with every split, so its count is 0: add the missing bin's index
    # times the NaN flag. Arithmetic, not a masked assignment (``out[nan] = ...`` costs ~40x
    # more, and conditional characteristics are NaN on most rows).
    np.isnan(x, out=hit)
    if hit.any():
        flag = hit.view(np.uint8)
        np.multiply(flag, np.uint8(len(splits) + 1), out=flag)
        out += flag


def _score_chunk(
    card: CompiledScorecard,
    columns: list[npt.NDArray[np.float64]],
    lo: int,
    hi: int,
    score: npt.NDArray[np.int32],
    reasons: npt.NDArray[np.int8],
) -> None:
    n = hi - lo
    shortfall = np.zeros(n, dtype=np.int32)
    dtype = card.characteristics[0].keys.dtype if card.characteristics else np.uint16
    top = [np.zeros(n, dtype=dtype) for _ in range(MAX_REASONS)]
    # Scratch buffers reused for every characteristic (no allocation in the loop).
    tmp = np.empty(n, dtype=dtype)
    key = np.empty(n, dtype=dtype)
    idx = np.empty(n, dtype=np.uint8)
    hit = np.empty(n, dtype=np.bool_)
    for ch, col in zip(card.characteristics, columns, strict=True):
        x = col[lo:hi]
        _bin_index(x, ch.splits, idx, hit)
        # every index is a valid bin, so "clip" never clips; it spares take's buffered copy
        np.take(ch.keys, idx, out=key, mode="clip")
        np.right_shift(key, card.rank_bits, out=tmp)
        np.add(shortfall, tmp, out=shortfall)
        # Insert `key` into the running descending top-4 (keys are unique per row).
        for j in range(MAX_REASONS - 1, 0, -1):
            np.minimum(top[j - 1], key, out=tmp)
            np.maximum(top[j], tmp, out=top[j])
        np.maximum(top[0], key, out=top[0])
    score[lo:hi] = sum(ch.max_points for ch in card.characteristics) - shortfall
    mask = (1 << card.rank_bits) - 1
    last = (1 << card.rank_bits) - 1
    for j in range(MAX_REASONS):
        t = top[j]
        reasons[lo:hi, j] = np.where(t > 0, last - (t & mask).astype(np.int16), -1)


def score_one(card: CompiledScorecard, values: Sequence[float]) -> int:
    """``score_arrays``' points for one account, in plain Python (``values``: one per
    characteristic, NaN for missing, as ``ScorecardModel.row_columns`` holds them): each
    value's bin is the number of splits ``<= x`` (NaN the missing bin), its points summed.
    Integers throughout, so the same points; a handful of NumPy calls per characteristic on
    one-element arrays costs far more than the comparisons."""
    total = 0
    for ch, x in zip(card.characteristics, values, strict=True):
        splits, points = _plain(ch)
        if math.isnan(x):
            total += points[len(splits) + 1]
        else:
            total += points[sum(1 for v in splits if x >= v)]
    return total


_PLAIN: dict[int, tuple[CompiledCharacteristic, tuple[float, ...], tuple[int, ...]]] = {}


def _plain(ch: CompiledCharacteristic) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """A characteristic's splits and points as Python numbers, made once per characteristic."""
    held = _PLAIN.get(id(ch))
    if held is None or held[0] is not ch:
        held = (ch, tuple(float(v) for v in ch.splits), tuple(int(p) for p in ch.points))
        _PLAIN[id(ch)] = held
    return held[1], held[2]


def score_arrays(
    card: CompiledScorecard,
    columns: list[npt.NDArray[np.float64]],
    threads: int | None = None,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int8]]:
    """Points per account and up to four reason indices (into ``card.names``, -1 = none)."""
    n = len(columns[0]) if columns else 0
    score = np.empty(n, dtype=np.int32)
    reasons = np.empty((n, MAX_REASONS), dtype=np.int8)
    bounds = [(lo, min(lo + CHUNK_ROWS, n)) for lo in range(0, n, CHUNK_ROWS)]
    workers = threads or min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(bounds) <= 1:
        for lo, hi in bounds:
            _score_chunk(card, columns, lo, hi, score, reasons)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(
                pool.map(lambda b: _score_chunk(card, columns, b[0], b[1], score, reasons), bounds)
            )
    return score, reasons
