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
    from composer.tf_runtime import tf

    total_nll, correct, count = 0.0, 0, 0
    for batch in _batches_by_length(sequences, batch_size):
        logits = model(batch[:, :-1], training=False)
        targets = batch[:, 1:]
        mask = tf.cast(targets != PAD, tf.float64)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.cast(logits, tf.float32))
        total_nll += float(tf.reduce_sum(tf.cast(nll, tf.float64) * mask))
        hits = tf.cast(tf.argmax(logits, axis=-1, output_type=tf.int32) == targets, tf.float64)
        correct += int(tf.reduce_sum(hits * mask))
        count += int(tf.reduce_sum(mask))
    nll_per_event = total_nll / max(count, 1)
    return {
        "nll_per_event": nll_per_event,
        "perplexity": math.exp(nll_per_event) if nll_per_event < 700 else math.inf,
        "accuracy": correct / max(count, 1),
        "events": count,
    }


def _batches_by_length(sequences: Sequence[np.ndarray], batch_size: int):
    """PAD-filled int32 batches of similar lengths, so little work is spent on padding."""
    ordered = sorted(sequences, key=len)
    for start in range(0, len(ordered), batch_size):
        group = ordered[start : start + batch_size]
        batch = np.full((len(group), max(map(len, group))), PAD, dtype=np.int32)
        for row, sequence in enumerate(group):
            batch[row, : len(sequence)] = sequence
        yield batch
