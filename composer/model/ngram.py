"""The baseline every LSTM figure is shown beside: an interpolated Kneser-Ney n-gram model.

Fitted once up to ``max_order``; any lower order is the same tables queried with a
shorter history, so the order can be chosen on validation data for free.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

BASELINE_EVENTS = 500_000  # training events the baseline is fitted on at most (a tenth as many for validation)


class KneserNey:
    """P(event | previous events) with interpolated Kneser-Ney smoothing (Ney's discounts per order)."""

    def __init__(self, vocab_size: int, max_order: int = 6) -> None:
        self.vocab_size = vocab_size
        self.max_order = max_order
        # raw[n][context] and continuation[n][context]: Counter of next events, contexts of length n
        self.raw: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(max_order)]
        self.continuation: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(max_order)]
        self.discounts = [0.75] * max_order

    def fit(self, sequences: Sequence[Sequence[int]]) -> KneserNey:
        for sequence in sequences:
            sequence = [int(t) for t in sequence]
            for i in range(1, len(sequence)):
                for n in range(min(self.max_order, i + 1)):
                    self.raw[n][tuple(sequence[i - n : i])][sequence[i]] += 1
        for n in range(1, self.max_order):
            for context, following in self.raw[n].items():
                for event in following:
                    self.continuation[n - 1][context[1:]][event] += 1
        self.discounts = [_ney_discount(self.raw[n]) for n in range(self.max_order)]
        self._totals = [self._summaries(n) for n in range(self.max_order)]
        return self

    def log_probs(self, sequence: Sequence[int], order: int | None = None) -> list[float]:
        """Natural-log probability of each event after the first, given the ones before it."""
        order = order or self.max_order
        sequence = [int(t) for t in sequence]
        return [
            math.log(self._prob(sequence[i], tuple(sequence[max(0, i - order + 1) : i]), top=True))
            for i in range(1, len(sequence))
        ]

    def nll_per_event(self, sequences: Sequence[Sequence[int]], order: int | None = None) -> float:
        total, count = 0.0, 0
        for sequence in sequences:
            log_probs = self.log_probs(sequence, order)
            total -= sum(log_probs)
            count += len(log_probs)
        return total / max(count, 1)

    def best_order(self, sequences: Sequence[Sequence[int]]) -> tuple[int, float]:
        """The order with the lowest NLL per event on ``sequences`` (use validation data), and that NLL."""
        return min(
            ((order, self.nll_per_event(sequences, order)) for order in range(1, self.max_order + 1)),
            key=lambda pair: pair[1],
        )

    def _summaries(self, n: int) -> tuple[dict, dict]:
        return tuple(
            {ctx: (sum(c.values()), len(c)) for ctx, c in table[n].items()} for table in (self.raw, self.continuation)
        )

    def _prob(self, event: int, context: tuple, top: bool) -> float:
        n = len(context)
        lower = self._prob(event, context[1:], top=False) if n else 1.0 / self.vocab_size
        table = (self.raw if top else self.continuation)[n]
        summary = self._totals[n][0 if top else 1].get(context)
        if summary is None:
            return lower
        total, types = summary
        discount = self.discounts[n]
        return max(table[context][event] - discount, 0) / total + discount * types / total * lower


def _ney_discount(table: dict[tuple, Counter]) -> float:
    """D = n1 / (n1 + 2 n2) from the counts of n-grams seen once and twice."""
    counts = Counter(count for following in table.values() for count in following.values() if count <= 2)
    n1, n2 = counts[1], counts[2]
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75


def fit_baseline(train_seqs, valid_seqs, vocab_size: int, max_order: int = 8) -> tuple[KneserNey, dict[str, float]]:
    """The baseline as every report shows it: fitted on the training split, order chosen on validation,
    scored on all of ``valid_seqs`` (what the LSTM beside it is scored on).

    A large corpus lends its first pieces, up to BASELINE_EVENTS (a tenth as many to choose the order):
    the counts are Python dicts that take about 2 GB and a minute per million events.
    """
    train = first_pieces(train_seqs, BASELINE_EVENTS)
    model = KneserNey(vocab_size, max_order=max_order).fit(train)
    order, _ = model.best_order(first_pieces(valid_seqs, BASELINE_EVENTS // 10))
    nll = model.nll_per_event(valid_seqs, order)
    return model, {
        "order": order,
        "nll_per_event": nll,
        "perplexity": math.exp(nll),
        "fitted_pieces": len(train),
        "fitted_events": sum(map(len, train)),
    }


def first_pieces(sequences: Iterable[Sequence[int]], max_events: int) -> list[Sequence[int]]:
    """The leading sequences until ``max_events`` events are reached (the one that crosses it included);
    reads a lazy iterable no further than that."""
    taken, total = [], 0
    for sequence in sequences:
        if total >= max_events:
            break
        taken.append(sequence)
        total += len(sequence)
    return taken
