"""How good a model is: likelihood of whole pieces, next to the n-gram baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from composer.events import PAD


def sequence_metrics(model, sequences: Sequence[np.ndarray], batch_size: int = 8) -> dict[str, float]:
    """NLL per event (nats), perplexity and top-1 accuracy over whole pieces, each from its Start.

    Unlike the windowed validation loss, every event is predicted with the full
    history of its piece, which is how a sampler uses the model.
    """
    scored = event_nlls(model, sequences, batch_size)
    count = sum(len(nll) for nll, _ in scored)
    nll_per_event = sum(float(nll.sum()) for nll, _ in scored) / max(count, 1)
    return {
        "nll_per_event": nll_per_event,
        "perplexity": math.exp(nll_per_event) if nll_per_event < 700 else math.inf,
        "accuracy": sum(int(hits.sum()) for _, hits in scored) / max(count, 1),
        "events": count,
    }


def event_nlls(model, sequences: Sequence[np.ndarray], batch_size: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each sequence: the NLL (nats) of every event after the first, and whether it was the top guess."""
    from composer.tf_runtime import tf

    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for indices, batch in _batches_by_length(sequences, batch_size):
        logits = model(batch[:, :-1], training=False)
        targets = batch[:, 1:]
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.cast(logits, tf.float32)).numpy()
        hits = (tf.argmax(logits, axis=-1, output_type=tf.int32) == targets).numpy()
        for row, index in enumerate(indices):
            length = len(sequences[index]) - 1
            results[index] = (nll[row, :length].astype(np.float64), hits[row, :length])
    return [results[index] for index in range(len(sequences))]


def _batches_by_length(sequences: Sequence[np.ndarray], batch_size: int):
    """(indices, PAD-filled int32 batch) of similar lengths, so little work is spent on padding."""
    order = sorted(range(len(sequences)), key=lambda index: len(sequences[index]))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = np.full((len(indices), max(len(sequences[i]) for i in indices)), PAD, dtype=np.int32)
        for row, index in enumerate(indices):
            batch[row, : len(sequences[index])] = sequences[index]
        yield indices, batch
