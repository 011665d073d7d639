"""Training throughput of composer's pipeline against a plain `model.fit` of the same model.

Both runs use the same architecture, optimizer, batch size, window length and
number of steps on the same machine in the same process; the baseline feeds
pre-cut NumPy windows to `model.fit`, ours streams shuffled, transposed windows
through `composer.dataset`. Events per second are measured after a warm-up epoch
(graph tracing excluded), best of ``--repeats``.

    python scripts/bench_train.py [--data midi_samples] [--steps 40] [--units 512] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from composer.config import EncodingConfig, ModelConfig, TrainConfig
from composer.corpus import load_corpus, split_corpus
from composer.dataset import TokenStream, training_dataset
from composer.events import vocabulary
from composer.model import build_model, compile_model
from composer.tf_runtime import keras

ROOT = Path(__file__).resolve().parent.parent


def events_per_second(model, data, steps: int, events_per_step: int, **fit_args) -> float:
    """Fit one warm-up epoch, then time one epoch of ``steps`` steps."""
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, **fit_args)
    started = time.perf_counter()
    model.fit(data, epochs=2, initial_epoch=1, steps_per_epoch=steps, verbose=0, shuffle=False, **fit_args)
    return steps * events_per_step / (time.perf_counter() - started)


def fresh_model(model_config: ModelConfig, training: TrainConfig, vocab_size: int, total_steps: int):
    keras.utils.set_random_seed(training.seed)
    model = build_model(model_config, vocab_size)
    compile_model(model, training.learning_rate, training.warmup_steps, total_steps, training.clipnorm)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "midi_samples")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--units", type=int, default=ModelConfig.units)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    encoding = EncodingConfig()
    model_config = ModelConfig(units=args.units)
    training = TrainConfig(epochs=3)
    train_files, _ = split_corpus(load_corpus(args.data, encoding), training.valid_fraction)
    stream = TokenStream([f.tokens for f in train_files], encoding)
    length, batch = training.sequence_length, training.batch_size
    count = stream.num_windows(length)
    windows = stream.tokens[(length * np.arange(count))[:, None] + np.arange(length + 1)]
    vocab_size, events_per_step = len(vocabulary(encoding)), length * batch

    results: dict[str, list[float]] = {"plain model.fit": [], "composer pipeline": []}
    for _ in range(args.repeats):
        model = fresh_model(model_config, training, vocab_size, 3 * args.steps)
        results["plain model.fit"].append(events_per_second(
            model, windows[:, :-1], args.steps, events_per_step, y=windows[:, 1:], batch_size=batch))  # fmt: skip
        model = fresh_model(model_config, training, vocab_size, 3 * args.steps)
        results["composer pipeline"].append(events_per_second(
            model, training_dataset(stream, encoding, training), args.steps, events_per_step))  # fmt: skip
    best = {name: max(values) for name, values in results.items()}
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "model": model_config.to_dict(),
        "batch_size": batch,
        "sequence_length": length,
        "events_per_s": best,
        "ratio_vs_plain_fit": best["composer pipeline"] / best["plain model.fit"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'pipeline':<20} {'events/s':>10} {'ratio':>7}")
    for name, value in best.items():
        print(f"{name:<20} {value:>10.0f} {value / best['plain model.fit']:>7.2f}")


if __name__ == "__main__":
    main()
