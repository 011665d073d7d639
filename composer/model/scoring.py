"""The likelihood of whole pieces under a network: what validation reports at the end of training and what
`composer evaluate` shows beside the n-gram baseline.

Every event is predicted with the full history of its piece (and the context the grammar gives beside it),
as the sampler uses the network, unlike the windowed loss training minimises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from composer.config import EncodingConfig
from composer.context import layout_of_size, stream_context, unpack
from composer.events import PAD, decode, vocabulary


def sequence_metrics(
    model, sequences: Sequence[np.ndarray], batch_size: int = 8, *, config: EncodingConfig | None = None
) -> dict[str, Any]:
    """NLL per event (nats), perplexity and top-1 accuracy over whole pieces, each from its Start; given the
    encoding ``config``, also the NLL by kind of event and per note (see ``_nll_by_kind``).

    Unlike the windowed validation loss, every event is predicted with the full
    history of its piece, which is how a sampler uses the model.
    """
    scored = event_nlls(model, sequences, batch_size, config=config)
    count = sum(len(nll) for nll, _ in scored)
    nll_per_event = sum(float(nll.sum()) for nll, _ in scored) / max(count, 1)
    metrics = {
        "nll_per_event": nll_per_event,
        "perplexity": math.exp(nll_per_event) if nll_per_event < 700 else math.inf,
        "accuracy": sum(int(hits.sum()) for _, hits in scored) / max(count, 1),
        "events": count,
    }
    if config is None:
        return metrics
    empty = [np.zeros(0, dtype=np.int64)]  # np.concatenate refuses an empty list
    targets = np.concatenate([np.asarray(sequence[1:], dtype=np.int64) for sequence in sequences] + empty)
    nlls = np.concatenate([nll for nll, _ in scored] + empty)
    notes = sum(decode(sequence, config).num_notes for sequence in sequences)
    return metrics | _nll_by_kind(nlls, np.array(vocabulary(config).kinds)[targets], notes)


def _nll_by_kind(nlls: np.ndarray, kinds: np.ndarray, notes: int) -> dict[str, Any]:
    """The NLL of each predicted event (nats) split by the kind of event it is, and per note.

    ``nll_by_kind`` maps each kind (Pitch, Duration, Shift, ...; whatever the vocabulary has) to its mean NLL,
    its number of events and its share of the total NLL, the largest share first. ``nll_per_note`` is the total
    NLL over the ``notes`` the pieces hold (drum hits too, a repeated bar's too): encodings that spend a different
    number of events on a note compare on it, where NLL per event does not. None without notes.
    """
    total = float(nlls.sum())
    by_kind = {}
    for kind in np.unique(kinds).tolist():
        chosen = nlls[kinds == kind]
        by_kind[kind] = {
            "nll": float(chosen.mean()),
            "events": len(chosen),
            "share": float(chosen.sum()) / total if total > 0 else None,
        }
    return {
        "nll_by_kind": dict(sorted(by_kind.items(), key=lambda item: -(item[1]["share"] or 0))),
        "nll_per_note": total / notes if notes else None,
        "notes": notes,
    }


def event_nlls(
    model, sequences: Sequence[np.ndarray], batch_size: int = 8, *, config: EncodingConfig | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each sequence: the NLL (nats) of every event after the first, and whether it was the top guess.
    A network that reads the context (``composer.context``) needs the encoding ``config`` to work it out."""
    from composer.tf_runtime import tf

    reads_context = len(model.inputs) == 2
    if reads_context and config is None:
        raise ValueError("this network reads the context of each event: pass the encoding config")
    width = model.inputs[1].shape[-1] if reads_context else 0
    layout = layout_of_size(width) if reads_context else 0  # the network's weights say which context it reads
    signature = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None, width], tf.float32)]

    @tf.function(input_signature=signature)  # one graph for every batch shape
    def score(batch, contexts):
        logits = tf.cast(
            model([batch[:, :-1], contexts] if reads_context else batch[:, :-1], training=False), tf.float32
        )
        targets = batch[:, 1:]
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        return nll, tf.argmax(logits, axis=-1, output_type=tf.int32) == targets

    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for indices, batch in _batches_by_length(sequences, batch_size):
        contexts = np.zeros((len(indices), batch.shape[1] - 1 if reads_context else 0, width), np.float32)
        for row, index in enumerate(indices if reads_context else []):
            packed = stream_context(sequences[index][:-1], config, layout)
            contexts[row, : len(sequences[index]) - 1] = unpack(packed, layout=layout)
        nll, hits = (tensor.numpy() for tensor in score(batch, contexts))
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
