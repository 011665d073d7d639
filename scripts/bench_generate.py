"""Generation speed: composer's NumPy sampler against two TensorFlow baselines, in one run.

For one model (default: 2 LSTM layers of 512 units, 256-d embedding, the default
vocabulary; random weights, which cost the same as trained ones) it measures
events per second of

- composer: stateful NumPy steps (composer.sample.generate), single stream and batch 16;
- windowed `model.predict`: the classic Keras-example loop, re-running the last 64 events each step;
- stateful `tf.function`: one compiled LSTM step with the state carried, as fast as TensorFlow goes step by step;

and the wall time of `composer --help` and `composer generate --length 200` (bundled model).

    python scripts/bench_generate.py [--events 400] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from composer.config import EncodingConfig, ModelConfig
from composer.events import START, vocabulary
from composer.inference import NumpyLSTM
from composer.model import build_model
from composer.sample import generate
from composer.tf_runtime import keras, tf

WINDOW = 64


def composer_rate(network: NumpyLSTM, config: EncodingConfig, events: int, batch: int) -> float:
    started = time.perf_counter()
    generate(network, config, num_events=events, batch=batch, seed=0)
    return events * batch / (time.perf_counter() - started)


def windowed_predict_rate(model, events: int) -> float:
    sequence = [START]
    started = time.perf_counter()
    for _ in range(events):
        logits = model.predict(np.array([sequence[-WINDOW:]]), verbose=0)[0, -1]
        sequence.append(int(np.argmax(logits)))
    return events / (time.perf_counter() - started)


def stateful_tf_function_rate(model, config: ModelConfig, events: int, batch: int) -> float:
    embedding = model.get_layer("embedding")
    cells = [model.get_layer(f"lstm_{i}").cell for i in range(config.layers)]
    dense = model.get_layer("logits")

    @tf.function
    def step(events, states):
        x = embedding(events)
        new_states = []
        for cell, state in zip(cells, states):
            x, state = cell(x, state)
            new_states.append(state)
        return tf.argmax(dense(x), axis=-1, output_type=tf.int32), new_states

    states = [[tf.zeros((batch, config.units)), tf.zeros((batch, config.units))] for _ in cells]
    tokens = tf.fill((batch,), START)
    tokens, states = step(tokens, states)  # trace once, outside the timing
    started = time.perf_counter()
    for _ in range(events):
        tokens, states = step(tokens, states)
    tokens.numpy()
    return events * batch / (time.perf_counter() - started)


def command_seconds(*args: str, repeats: int = 3) -> float:
    best = float("inf")
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "composer.cli", *args], cwd=folder, check=True, capture_output=True)
            best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    encoding, model_config = EncodingConfig(), ModelConfig(embedding_dim=256, units=512, layers=2)
    keras.utils.set_random_seed(0)
    model = build_model(model_config, len(vocabulary(encoding)))
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "bench.keras")
        network = NumpyLSTM.load(Path(folder) / "bench.keras")
    rates = {
        "composer NumPy, 1 stream": composer_rate(network, encoding, args.events, 1),
        "composer NumPy, batch 16": composer_rate(network, encoding, args.events, 16),
        "stateful tf.function, 1 stream": stateful_tf_function_rate(model, model_config, args.events, 1),
        "stateful tf.function, batch 16": stateful_tf_function_rate(model, model_config, args.events, 16),
        "windowed model.predict, 1 stream": windowed_predict_rate(model, min(args.events, 100)),
    }
    walls = {
        "composer --help": command_seconds("--help"),
        "composer generate --length 200": command_seconds("generate", "--length", "200", "--seed", "1"),
    }
    baseline = rates["windowed model.predict, 1 stream"]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "model": model_config.to_dict(),
        "events_per_s": rates,
        "ratio_vs_windowed_predict": {name: rate / baseline for name, rate in rates.items()},
        "wall_seconds": walls,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'generation':<36} {'events/s':>10} {'vs predict':>11}")
    for name, rate in rates.items():
        print(f"{name:<36} {rate:>10.0f} {rate / baseline:>10.1f}x")
    for name, seconds in walls.items():
        print(f"{name:<36} {seconds:>9.2f} s")


if __name__ == "__main__":
    main()
