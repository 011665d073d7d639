"""How a model's samples change with the sampling temperatures (and top-p): their own NLL under the model
against real music's, and the mean feature overlap with the corpus that the temperature trades it against.

    python scripts/temperature_sweep.py MODEL.keras 0.95 0.9,1,1.05 --seeds 0,1,2,3   # T[,top-p[,pitch T]]

For each setting and seed, 40 samples of 600 events as in scripts/quality.py: the own-NLL ratio
(``evaluate.own_sample_nll``) and the mean overlap against ``--reference`` (``evaluate --reference``), with the
lowest feature. Both move by about 0.02 from seed to seed, as much as a step of 0.05 in temperature moves them,
so a setting is judged over several seeds: the row gives each seed's figures and their mean.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from composer.artifacts import model_encoding
from composer.evaluation.evaluate import load_keras_model, own_sample_nll
from composer.evaluation.features import compare_sets, load_scores
from composer.generation.generate import generate_scores
from composer.generation.request import GenerateRequest
from composer.generation.sample import SamplingOptions

SHOWN = ("scale_consistency", "pitch_class_entropy", "consonance", "onsets_on_beat")


def options_of(setting: str) -> SamplingOptions:
    values = [float(value) for value in setting.split(",")]
    temperature, top_p, pitch_temperature = (values + [1.0, values[0]][len(values) - 1 :])[:3]
    return SamplingOptions(temperature=temperature, top_p=top_p, pitch_temperature=pitch_temperature)


class Model:
    """The model file (what generate reads) and its network loaded once (what scores the samples)."""

    def __init__(self, path: Path) -> None:
        self.path, self.network = path, load_keras_model(path)
        self.metadata, self.config = model_encoding(path)


def measure(model: Model, options: SamplingOptions, reference: list, samples: int, length: int, seed: int) -> dict:
    request = GenerateRequest(num_events=length, num_files=samples, seed=seed, options=options)
    scores = generate_scores(request, model.path)
    own, real = own_sample_nll(model.network, scores, model.metadata, model.config)
    music = compare_sets(scores, reference)
    overlaps = {name: f["overlap"] for name, f in music["features"].items() if f["overlap"] is not None}
    lowest = min(overlaps, key=overlaps.get)
    return {
        "own_ratio": own["nll_per_event"] / real["nll_per_event"],
        "mean_overlap": music["mean_overlap"],
        "lowest": f"{lowest} {overlaps[lowest]:.2f}",
        "shown": [music["features"][name]["generated"]["mean"] for name in SHOWN],
    }


def sweep_row(model: Model, setting: str, reference: list, samples: int, length: int, seeds: list[int]) -> str:
    options, started = options_of(setting), time.perf_counter()
    runs = [measure(model, options, reference, samples, length, seed) for seed in seeds]

    def per_seed(key: str) -> str:
        values = [run[key] for run in runs]
        return " / ".join(f"{value:.3f}" for value in values) + f" (mean {np.mean(values):.3f})"

    shown = " | ".join(f"{np.mean([run['shown'][i] for run in runs]):.3f}" for i in range(len(SHOWN)))
    return (
        f"| {options.temperature:g} | {options.pitch_temperature:g} | {options.top_p:g} | {per_seed('own_ratio')} | "
        f"{per_seed('mean_overlap')} | {', '.join(run['lowest'] for run in runs)} | {shown} | "
        f"{time.perf_counter() - started:.0f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("settings", nargs="+", help="T[,top-p[,pitch T]]")
    parser.add_argument("--reference", type=Path, default=Path("midi_samples"))
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--seeds", default="0", help="comma-separated sampling seeds")
    args = parser.parse_args()
    reference = list(load_scores(args.reference)[0].values())
    seeds = [int(seed) for seed in args.seeds.split(",")]
    model = Model(args.model)
    print(
        "| temperature | pitch temperature | top-p | own NLL / real, per seed | mean overlap, per seed | "
        "lowest feature, per seed | " + " | ".join(SHOWN) + " | time |"
    )
    print("|" + "---|" * (len(SHOWN) + 7))
    for setting in args.settings:
        print(sweep_row(model, setting, reference, args.samples, args.length, seeds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
