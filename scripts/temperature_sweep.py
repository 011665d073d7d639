"""How a model's samples change with the sampling temperature (and top-p): their own NLL under the model
against real music's, and the pitch figures the temperature trades it against.

    python scripts/temperature_sweep.py MODEL.keras 0.8 0.9 1.0 1.0,0.95   # T or T,top-p

For each setting, 40 samples of 600 events (seed 0) as in scripts/quality.py; the own-NLL ratio is measured
the same way (``evaluate.own_sample_nll``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from composer.artifacts import model_encoding
from composer.evaluation.evaluate import load_keras_model, own_sample_nll
from composer.evaluation.features import piece_features
from composer.generation.generate import generate_scores
from composer.generation.request import GenerateRequest
from composer.generation.sample import SamplingOptions

SHOWN = ("scale_consistency", "pitch_class_entropy", "consonance", "onsets_on_beat")


def sweep_row(model: Path, setting: str, samples: int, length: int) -> str:
    temperature, top_p = (float(value) for value in f"{setting},1".split(",")[:2])
    started = time.perf_counter()
    options = SamplingOptions(temperature=temperature, top_p=top_p)
    scores = generate_scores(GenerateRequest(num_events=length, num_files=samples, options=options), model)
    metadata, config = model_encoding(model)
    own, real = own_sample_nll(load_keras_model(model), scores, metadata, config)
    features = [piece_features(score) for score in scores]
    means = " | ".join(f"{np.mean([float(f[name]) for f in features]):.3f}" for name in SHOWN)
    return (
        f"| {temperature:g} | {top_p:g} | {own['nll_per_event']:.3f} / {real['nll_per_event']:.3f} = "
        f"{own['nll_per_event'] / real['nll_per_event']:.3f} | {means} | {time.perf_counter() - started:.0f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("settings", nargs="+", help="T or T,top-p")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--length", type=int, default=600)
    args = parser.parse_args()
    print("| temperature | top-p | own NLL / real (nats/event) | " + " | ".join(SHOWN) + " | time |")
    print("|" + "---|" * (len(SHOWN) + 4))
    for setting in args.settings:
        print(sweep_row(args.model, setting, args.samples, args.length), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
