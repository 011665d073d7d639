"""How good a model is: likelihood of whole pieces, next to the n-gram baseline."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from composer.artifacts import read_metadata
from composer.config import EncodingConfig
from composer.corpus import load_corpus
from composer.events import PAD


def evaluate_folder(
    model_path: Path,
    folder: str | os.PathLike,
    *,
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_file: Callable[[int, str, str | None], None] | None = None,
) -> dict[str, Any]:
    """Likelihood of the MIDI files in ``folder`` under a model, encoded the way that model was trained."""
    from composer.tf_runtime import keras

    config = EncodingConfig.from_dict(read_metadata(model_path)["encoding"])
    corpus = load_corpus(folder, config, cache_dir=cache_dir, workers=workers, on_file=on_file)
    model = keras.models.load_model(model_path, compile=False)  # safe_mode: a model file never runs code
    return {"model": str(model_path), "data": corpus.summary(), **sequence_metrics(model, [f.tokens for f in corpus.files])}


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
