"""Is it just copying? How much of a generated event sequence also occurs in the training corpus.

Every run of n events of every training piece is hashed once (a polynomial
rolling hash modulo 2^64, computed for all windows at once with NumPy cumulative
sums), so a query is a sorted-array lookup and a corpus of thousands of files is
indexed in seconds. The transposition-invariant view replaces each pitch by its
interval from the previous pitch, so a phrase copied in another key still
matches. Hash collisions (about n^2 / 2^64) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NGRAM_SIZES = (8, 16, 32)  # events; a note is about four
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so it has an inverse modulo 2^64
_BASE_INVERSE = np.uint64(pow(int(_BASE), -1, 2**64))
_INTERVAL_OFFSET = 1 << 20  # interval tokens live far above any event id


def transposition_invariant(tokens: np.ndarray, pitched: np.ndarray) -> np.ndarray:
    """Each pitched note's pitch event (``pitched``: True there; drums are not transposed, so not them)
    becomes its interval from the previous one (the first one: 0)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    where = np.flatnonzero(pitched)
    intervals = np.diff(tokens[where], prepend=tokens[where[:1]])
    out = tokens.copy()
    out[where] = _INTERVAL_OFFSET + intervals
    return out


def window_hashes(tokens: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of ``n`` consecutive events of one sequence (empty when it is shorter)."""
    return _Hasher(np.asarray(tokens)).windows(n)


class _Hasher:
    """Prefix sums from which the hash of any window of the sequence is two multiplications away:
    hash(i, n) = B^(i+n-1) * (S[i+n] - S[i]), with S[k] the sum over j < k of (token_j + 1) * B^-j."""

    def __init__(self, tokens: np.ndarray) -> None:
        values = np.asarray(tokens, dtype=np.uint64) + np.uint64(1)
        with np.errstate(over="ignore"):
            self.powers = np.cumprod(np.full(len(values), _BASE, dtype=np.uint64)) * _BASE_INVERSE  # B^0, B^1, ...
            inverse_powers = np.cumprod(np.full(len(values), _BASE_INVERSE, dtype=np.uint64)) * _BASE
            self.prefix = np.concatenate([[np.uint64(0)], np.cumsum(values * inverse_powers, dtype=np.uint64)])

    def windows(self, n: int) -> np.ndarray:
        if len(self.powers) < n:
            return np.empty(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return self.powers[n - 1 :] * (self.prefix[n:] - self.prefix[:-n])


class CorpusIndex:
    """The hashes of every run of n events in a corpus, for any n asked (each n indexed once).

    The pieces are hashed as one joined sequence; windows that straddle two pieces are left out.
    """

    def __init__(self, sequences: Sequence[np.ndarray]) -> None:
        sequences = [np.asarray(s) for s in sequences]
        self._hasher = _Hasher(np.concatenate(sequences or [np.empty(0, dtype=np.int64)]))
        self._piece = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
        self._tables: dict[int, np.ndarray] = {}

    def table(self, n: int) -> np.ndarray:
        if n not in self._tables:
            hashes = self._hasher.windows(n)
            within_one_piece = self._piece[: len(hashes)] == self._piece[n - 1 :]
            self._tables[n] = np.sort(hashes[within_one_piece])  # duplicates do no harm; np.unique is 25x slower
        return self._tables[n]

    def found(self, tokens: np.ndarray, n: int) -> np.ndarray:
        """For each run of ``n`` events of ``tokens``: does the corpus hold it too?"""
        table, hashes = self.table(n), window_hashes(tokens, n)
        if not len(table):
            return np.zeros(len(hashes), dtype=bool)
        slots = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
        return table[slots] == hashes

    def longest_shared_run(self, tokens: np.ndarray, limit: int = 4096) -> int:
        """The longest run of events of ``tokens`` that the corpus also holds (binary search on n)."""
        low, high = 0, min(len(tokens), limit)
        while low < high:
            middle = (low + high + 1) // 2
            if self.found(tokens, middle).any():
                low = middle
            else:
                high = middle - 1
        return low


def copy_report(index: CorpusIndex, invariant_index: CorpusIndex, tokens: np.ndarray, pitched: np.ndarray) -> dict:
    """Longest shared run (as is and transposed) and the fraction of n-grams found, for one piece."""
    tokens = np.asarray(tokens)
    invariant = transposition_invariant(tokens, pitched)
    return {
        "events": int(len(tokens)),
        "longest_shared_run": index.longest_shared_run(tokens),
        "longest_shared_run_transposed": invariant_index.longest_shared_run(invariant),
        "ngrams_found": {str(n): _mean(index.found(tokens, n)) for n in NGRAM_SIZES},
        "ngrams_found_transposed": {str(n): _mean(invariant_index.found(invariant, n)) for n in NGRAM_SIZES},
    }


def _mean(found: np.ndarray) -> float | None:
    return float(found.mean()) if len(found) else None
