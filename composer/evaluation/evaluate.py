"""How good a model is: likelihood of whole pieces next to the n-gram baseline, and music statistics."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from composer.artifacts import model_encoding
from composer.config import COPY_THRESHOLD_BARS, EncodingConfig, TrainConfig
from composer.data.corpus import load_corpus, split_corpus
from composer.errors import ComposerError
from composer.events import BAR, encode, pitched_note_mask, vocabulary
from composer.model.ngram import fit_baseline
from composer.model.scoring import sequence_metrics
from composer.score import Score


def evaluate_folder(
    model_path: Path,
    folder: str | os.PathLike,
    *,
    train_data: Path | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_file: Callable[[int, str, str | None], None] | None = None,
) -> dict[str, Any]:
    """Likelihood of the MIDI files in ``folder`` under a model, encoded the way that model was trained,
    beside the n-gram baseline fitted on the model's own training split."""
    metadata, config = model_encoding(model_path)
    model = load_keras_model(model_path)
    corpus = load_corpus(folder, config, cache_dir=cache_dir, workers=workers, on_file=on_file)
    sequences = [f.tokens for f in corpus.files]
    return {
        "model": str(model_path),
        "data": corpus.summary(),
        **sequence_metrics(model, sequences, config=config),
        "ngram": _ngram_on(sequences, metadata, config, train_data, cache_dir, workers),
    }


def load_keras_model(path: Path):
    """The Keras model in a composer .keras file, refused as untrusted unless it is composer's own network.

    Its layers are checked before Keras reads the file, and Keras then loads it in ``safe_mode``,
    so a model file never runs code (a Lambda layer's pickled function, for instance).
    """
    from composer.generation.inference import check_layers

    check_layers(path)
    from composer.tf_runtime import keras  # only now: refusing a file takes no TensorFlow start-up

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except (ValueError, TypeError, KeyError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ComposerError(f"{path}: Keras refuses to load this model ({reason})") from None


def training_split(metadata: dict, config: EncodingConfig, train_data=None, cache_dir=None, workers=None):
    """(folder, train files, validation files) of the model's training data, split as in training."""
    folder = Path(train_data or metadata["data"]["folder"])
    if not folder.is_dir():
        raise ComposerError(f"the model's training folder {folder} is not here; point --train-data at it")
    training = TrainConfig.from_dict(metadata["training"])
    corpus = load_corpus(folder, config, cache_dir=cache_dir, workers=workers)
    return folder, *split_corpus(corpus, training.valid_fraction)


def _ngram_on(sequences, metadata: dict, config: EncodingConfig, train_data, cache_dir, workers) -> dict[str, Any]:
    """The baseline's NLL on ``sequences``, refitted on the files the model trained on (split as in training)."""
    try:
        folder, train_files, valid_files = training_split(metadata, config, train_data, cache_dir, workers)
    except ComposerError as error:
        return {"unavailable": str(error)}
    ngram, fitted = fit_baseline(
        [f.tokens for f in train_files], [f.tokens for f in valid_files], len(vocabulary(config))
    )
    nll = ngram.nll_per_event(sequences, fitted["order"])
    return {
        "order": fitted["order"],
        "nll_per_event": nll,
        "perplexity": math.exp(nll),
        "train_folder": str(folder),
        "train_files": len(train_files),
        "fitted_files": fitted["fitted_pieces"],
        "fitted_events": fitted["fitted_events"],
    }


def compare_music(
    reference_folder: str | os.PathLike,
    *,
    generated_folder: str | os.PathLike | None = None,
    model_path: Path | None = None,
    samples: int = 20,
    num_events: int = 400,
    seed: int = 0,
) -> dict[str, Any]:
    """Music statistics of generated pieces against the pieces in ``reference_folder`` (see features.py).

    The generated pieces are the files of ``generated_folder``, or else ``samples``
    pieces sampled from ``model_path`` on the spot (nothing is written).
    """
    from composer.evaluation.features import compare_sets, load_scores

    reference, skipped = load_scores(reference_folder)
    source, names, generated, generated_skipped = _generated_pieces(
        generated_folder, model_path, samples, num_events, seed
    )
    return {
        "generated_from": source,
        "reference_from": str(reference_folder),
        **compare_sets(generated, list(reference.values())),
        "skipped": {**generated_skipped, **skipped},
    }


def _generated_pieces(folder, model_path: Path | None, samples: int, num_events: int, seed: int):
    """(where from, names, scores, skipped files) of the pieces to judge: a folder's, or sampled now."""
    from composer.evaluation.features import load_scores

    if folder is not None:
        scores, skipped = load_scores(folder)
        return str(folder), list(scores), list(scores.values()), skipped
    from composer.generation.generate import generate_scores
    from composer.generation.request import GenerateRequest

    scores = generate_scores(GenerateRequest(num_events=num_events, num_files=samples, seed=seed), model_path)
    source = f"{samples} pieces of {num_events} events sampled from {model_path} with seed {seed}"
    return source, [f"sample {index}" for index in range(1, samples + 1)], scores, {}


def copy_check(
    model_path: Path,
    *,
    generated_folder: str | os.PathLike | None = None,
    samples: int = 20,
    num_events: int = 400,
    seed: int = 0,
    train_data: Path | None = None,
    threshold_bars: float = COPY_THRESHOLD_BARS,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """How much of each generated piece also occurs in the model's training files, beside the same figures
    for real music the model never saw (its validation files), which shares some by nature.

    The threshold is counted in bars, not events, because what an event is worth depends on the encoding and
    the texture (a bar of a four-part chorale is about 60 events, of a single melody a fraction of that): the
    training files' own events per bar turn ``threshold_bars`` into events."""
    from composer.evaluation.copycheck import CorpusIndex, copy_report, transposition_invariant

    metadata, config = model_encoding(model_path)
    folder, train_files, valid_files = training_split(metadata, config, train_data, cache_dir, workers)
    training = [f.tokens for f in train_files]
    per_bar = events_per_bar(training, config)
    threshold = math.ceil(threshold_bars * per_bar)
    index = CorpusIndex(training)
    invariant = CorpusIndex([transposition_invariant(t, pitched_note_mask(t, config)) for t in training])

    def report(tokens: np.ndarray) -> dict:
        return copy_report(index, invariant, tokens, pitched_note_mask(tokens, config))

    source, names, scores, skipped = _generated_pieces(generated_folder, model_path, samples, num_events, seed)
    pieces = [{"piece": name, **report(np.array(encode(score, config)))} for name, score in zip(names, scores)]
    for piece in pieces:
        piece["flagged"] = piece["longest_shared_run_transposed"] >= threshold
    held_out = [report(f.tokens) for f in valid_files]
    return {
        "generated_from": source,
        "train_folder": str(folder),
        "train_files": len(train_files),
        "threshold": threshold,
        "threshold_bars": threshold_bars,
        "events_per_bar": per_bar,
        "flagged": sum(piece["flagged"] for piece in pieces),
        "held_out_over_threshold": sum(r["longest_shared_run_transposed"] >= threshold for r in held_out),
        "generated": _copy_summary(pieces),
        "held_out": _copy_summary(held_out),
        "pieces": pieces,
        "skipped": skipped,
    }


def events_per_bar(sequences: Sequence[np.ndarray], config: EncodingConfig) -> float:
    """Events per bar line over ``sequences`` (a repeated bar counts as the bar it is); a corpus without bar
    lines counts as one bar."""
    bar = vocabulary(config).ids[BAR, None]
    events = sum(len(tokens) for tokens in sequences)
    return events / max(1, sum(int(np.count_nonzero(np.asarray(tokens) == bar)) for tokens in sequences))


def _copy_summary(reports: list[dict]) -> dict[str, Any]:
    """Medians over pieces: what a typical piece shares with the training files."""

    def median(values):
        values = [v for v in values if v is not None]
        return float(np.median(values)) if values else None

    return {
        "pieces": len(reports),
        "longest_shared_run": median(r["longest_shared_run"] for r in reports),
        "longest_shared_run_transposed": median(r["longest_shared_run_transposed"] for r in reports),
        "ngrams_found_transposed": {
            n: median(r["ngrams_found_transposed"][n] for r in reports)
            for n in (reports[0]["ngrams_found_transposed"] if reports else {})
        },
    }


def format_copy_report(result: dict[str, Any]) -> str:
    """The medians of the generated pieces and of the held-out baseline, in events, the threshold, and one line
    per flagged piece."""

    def line(name: str, summary: dict) -> str:
        found = ", ".join(
            f"{n}-grams {share:.0%}" for n, share in summary["ngrams_found_transposed"].items() if share is not None
        )
        return (
            f"{name}: longest run shared with training {summary['longest_shared_run']:g} events "
            f"({summary['longest_shared_run_transposed']:g} in any key); found in training: {found}"
        )

    lines = [
        f"copy check against {result['train_files']} training files of {result['train_folder']}",
        line(f"generated, median of {result['generated']['pieces']}", result["generated"]),
        line(f"held-out real music, median of {result['held_out']['pieces']}", result["held_out"]),
        f"threshold {result['threshold']} events in a row in any key ({result['threshold_bars']:g} bars at the "
        f"training files' {result['events_per_bar']:.1f} events a bar): {result['flagged']} of "
        f"{result['generated']['pieces']} generated pieces flagged; {result['held_out_over_threshold']} of "
        f"{result['held_out']['pieces']} held-out real pieces reach it",
    ]
    lines += [
        f"FLAGGED {piece['piece']}: {piece['longest_shared_run_transposed']} events in a row (in some key) "
        "are in the training files"
        for piece in result["pieces"]
        if piece["flagged"]
    ]
    return "\n".join(lines)


def write_music_report(result: dict[str, Any], folder: Path, *, force: bool = False) -> list[Path]:
    """report.md, report.json and features.png in ``folder``; existing ones are replaced only with ``force``."""
    from composer.atomic import write_atomic
    from composer.evaluation.features import format_report
    from composer.render.plot import plot_feature_comparison

    names = ("report.md", "report.json", "features.png")
    taken = [name for name in names if (folder / name).exists()]
    if taken and not force:
        raise ComposerError(
            f"{folder / taken[0]} already exists; pass --force to overwrite it or choose another --report"
        )
    return [
        write_atomic(folder / "report.md", format_report(result).encode(), overwrite=force),
        write_atomic(folder / "report.json", json.dumps(result, indent=2).encode(), overwrite=force),
        plot_feature_comparison(result, folder / "features.png", overwrite=force),
    ]


def own_sample_nll(network, scores: Sequence[Score], metadata: dict, config: EncodingConfig) -> tuple[dict, dict]:
    """``sequence_metrics`` of a model's samples and of the real pieces it was validated on, each from its start
    and the real ones cut to the samples' length: samples far less likely than real music have drifted where the
    model has not been; far likelier ones are duller than the music (sampled too cold).

    The sampler stops at the length asked for, so the End that encoding appends to a sample is left out
    (the model never chose it, and scores it at ~20 nats); the real pieces are cut to the samples' mean
    length, because the first events of a piece cost more or less than its later ones.
    """
    samples = [encode(score, config)[:-1] for score in scores]
    length = round(sum(len(sample) for sample in samples) / len(samples))
    valid_files = training_split(metadata, config)[2]
    real = [f.tokens[:length] for f in valid_files]
    return (sequence_metrics(network, samples, config=config), sequence_metrics(network, real, config=config))
