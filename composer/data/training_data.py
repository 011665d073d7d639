"""What `composer train` reads: a MIDI folder held in memory, or a prepared cache streamed shard by shard.

Both give the same summary, split and event counts, and the number of steps an
epoch takes. No TensorFlow here: the data is read and checked before training
starts, and before --force removes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from composer.config import EncodingConfig, TrainConfig
from composer.data.corpus import MIN_VALID_EVENTS, load_corpus, split_corpus
from composer.data.prepare import is_cache, iter_pieces, read_manifest
from composer.errors import ComposerError
from composer.events import openings, pitch_ranges, vocabulary
from composer.model.ngram import BASELINE_EVENTS, first_pieces


@dataclass
class TrainingData:
    """``train_pieces``/``valid_pieces`` are every piece of a folder, and of a cache only the first
    pieces the n-gram baseline reads (BASELINE_EVENTS, a tenth for validation), which the final
    whole-piece evaluation reads too."""

    summary: dict[str, Any]
    split: dict[str, Any]
    event_counts: np.ndarray
    train_pieces: list[np.ndarray]
    valid_pieces: list[np.ndarray]
    cache: Path | None = None
    manifest: dict[str, Any] | None = None


def load_training_data(
    data: Path,
    encoding: EncodingConfig,
    training: TrainConfig,
    *,
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_file: Callable | None = None,
) -> TrainingData:
    if is_cache(data):
        return _cache_data(data, encoding)
    corpus = load_corpus(data, encoding, cache_dir=cache_dir, workers=workers, on_file=on_file)
    train_files, valid_files = split_corpus(corpus, training.valid_fraction)
    train_pieces, valid_pieces = [f.tokens for f in train_files], [f.tokens for f in valid_files]
    split = {
        "train_files": len(train_files),
        "valid_files": len(valid_files),
        "train_events": sum(map(len, train_pieces)),
        "valid_events": sum(map(len, valid_pieces)),
        "openings": openings(train_pieces, encoding),
        "pitch_ranges": pitch_ranges(train_pieces, encoding),
    }
    counts = np.bincount(np.concatenate(train_pieces), minlength=len(vocabulary(encoding)))
    return TrainingData(corpus.summary(), split, counts, train_pieces, valid_pieces)


def steps_per_epoch(data: TrainingData, training: TrainConfig, pipelines: int = 1) -> int:
    """Batches per epoch (at most --steps-per-epoch); refuses data too small for one batch."""
    steps = _full_pass_steps(data, training, pipelines)
    return min(steps, training.steps_per_epoch or steps)


def validation_steps(data: TrainingData, training: TrainConfig, pipelines: int) -> int:
    """Validation batches per epoch from a cache: all windows alone (``pipelines`` 0), else as many as every
    pipeline has in full, so that all workers run the same number of steps. An epoch capped by
    --steps-per-epoch validates on the same share of the windows (the same ones every epoch)."""
    windows, batch = _validation_windows(data.manifest, training.sequence_length), training.batch_size
    steps = -(-windows // batch) if not pipelines else windows // pipelines // (batch // pipelines)
    full_pass = _full_pass_steps(data, training, max(pipelines, 1))
    steps = -(-steps * steps_per_epoch(data, training, max(pipelines, 1)) // full_pass)
    if steps == 0:
        raise ComposerError(f"too little validation data for {pipelines} workers: lower --batch-size")
    return steps


def lane_steps(events: int, training: TrainConfig) -> int:
    """Batches in one pass over ``events`` dealt into one lane per batch row, as ``dataset.lane_training_dataset``
    does: consecutive windows of a lane share an event (one's last target is the next one's first input)."""
    return (events // training.batch_size - 1) // training.sequence_length


def _full_pass_steps(data: TrainingData, training: TrainConfig, pipelines: int) -> int:
    """Windows are counted as the datasets cut them; from a cache, every worker reads its own shards,
    and the one with the fewest windows sets the pace."""
    length, batch = training.sequence_length, training.batch_size
    if data.cache is None and training.carry_state:
        steps = lane_steps(data.split["train_events"], training)
        valid_windows = lane_steps(data.split["valid_events"], training)
    elif data.cache is None:
        steps = (data.split["train_events"] - 1) // length // batch
        valid_windows = (data.split["valid_events"] - 1) // length
    else:
        shards = data.manifest["shard_tokens"]
        if len(shards["train"]) < pipelines:
            raise ComposerError(
                f"{data.cache} has {len(shards['train'])} shards for {pipelines} workers: prepare it "
                f"again with --shards {pipelines} or more"
            )
        if batch % pipelines:
            raise ComposerError(f"--batch-size {batch} does not split evenly between {pipelines} workers")
        windows = [max(tokens - length, 0) // length for tokens in shards["train"]]  # whatever the random offset
        steps = min(sum(windows[worker::pipelines]) for worker in range(pipelines)) // (batch // pipelines)
        valid_windows = _validation_windows(data.manifest, length)
    if steps == 0 or valid_windows == 0:
        raise ComposerError("too little data for one batch: lower --batch-size or --sequence-length, or add MIDI files")
    return steps


def _validation_windows(manifest: dict[str, Any], length: int) -> int:
    """As the validation dataset cuts them: from the start of each shard, without a random offset."""
    return sum((tokens - 1) // length for tokens in manifest["shard_tokens"]["valid"] if tokens)


def _cache_data(cache: Path, encoding: EncodingConfig) -> TrainingData:
    manifest = read_manifest(cache)
    differences = [
        f"{key} {value} (here {manifest['encoding'].get(key)})"
        for key, value in encoding.to_dict().items()
        if manifest["encoding"].get(key) != value
    ]
    if differences:
        raise ComposerError(
            f"{cache} was prepared with another encoding than this run needs: "
            f"{', '.join(differences)}; prepare a cache with the needed settings"
        )
    tokens = {split: sum(manifest["shard_tokens"][split]) for split in ("train", "valid")}
    if tokens["valid"] < MIN_VALID_EVENTS:
        raise ComposerError(
            f"{cache}: validation set too small to mean anything ({tokens['valid']} events, "
            f"need {MIN_VALID_EVENTS}): prepare it with a larger --valid-fraction or more files"
        )
    summary = {
        key: manifest[key]
        for key in ("files_used", "files_skipped", "skipped_by_reason", "duplicates_dropped", "tokens", "shards")
    }
    split = {
        "train_files": manifest["split_files"]["train"],
        "valid_files": manifest["split_files"]["valid"],
        "train_events": tokens["train"],
        "valid_events": tokens["valid"],
        "shards": manifest["shards"],
        # caches of composer 0.10 recorded the meters alone, those of 0.9 and before nothing
        "openings": manifest.get("openings", manifest.get("opening_meters", {})),
        "pitch_ranges": manifest.get("pitch_ranges", {}),  # caches of composer 0.11 and before: none
    }
    samples = [
        first_pieces(iter_pieces(cache, manifest, split), limit)
        for split, limit in (("train", BASELINE_EVENTS), ("valid", BASELINE_EVENTS // 10))
    ]
    return TrainingData(summary, split, np.asarray(manifest["event_counts"]), *samples, cache, manifest)
