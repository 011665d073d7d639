"""How a model's samples change with the sampling temperatures (and top-p): their own NLL under the model
against real music's, and the pitch figures the temperature trades it against.

    python scripts/temperature_sweep.py MODEL.keras 0.8 0.9 1.0,0.95 1.0,1,0.8   # T[,top-p[,pitch T]]

For each setting, 40 samples of 600 events (seed 0 unless --seed) as in scripts/quality.py; the own-NLL
ratio is measured the same way (``evaluate.own_sample_nll``).
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


def sweep_row(model: Path, setting: str, samples: int, length: int, seed: int = 0) -> str:
    values = [float(value) for value in setting.split(",")]
    temperature, top_p, pitch_temperature = (values + [1.0, values[0]][len(values) - 1 :])[:3]
    started = time.perf_counter()
    options = SamplingOptions(temperature=temperature, top_p=top_p, pitch_temperature=pitch_temperature)
    scores = generate_scores(GenerateRequest(num_events=length, num_files=samples, seed=seed, options=options), model)
    metadata, config = model_encoding(model)
    own, real = own_sample_nll(load_keras_model(model), scores, metadata, config)
    features = [piece_features(score) for score in scores]
    means = " | ".join(f"{np.mean([float(f[name]) for f in features]):.3f}" for name in SHOWN)
    return (
        f"| {temperature:g} | {pitch_temperature:g} | {top_p:g} | "
        f"{own['nll_per_event']:.3f} / {real['nll_per_event']:.3f} = "
        f"{own['nll_per_event'] / real['nll_per_event']:.3f} | {means} | {time.perf_counter() - started:.0f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("settings", nargs="+", help="T[,top-p[,pitch T]]")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        "| temperature | pitch temperature | top-p | own NLL / real (nats/event) | " + " | ".join(SHOWN) + " | time |"
    )
    print("|" + "---|" * (len(SHOWN) + 5))
    for setting in args.settings:
        print(sweep_row(args.model, setting, args.samples, args.length, args.seed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
