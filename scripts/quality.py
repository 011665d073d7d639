"""The music-quality figures of one or more trained models, as rows of docs/quality.md's ablation table.

    python scripts/quality.py composer-model/model.keras [MORE.keras ...] [--samples 40] [--length 600]

For each model: samples drawn at the default sampling settings and compared with the
reference corpus (`composer evaluate --reference`: per-feature overlaps, the classifier
two-sample test, rare instruments), the samples' own NLL under the model against the
real validation pieces' cut to the same length, NLL per note and per kind of event, the copy check, and the
voice leading a harmony teacher would count (parallel fifths and octaves, crossings; ``voice_leading``) of the
samples and the reference over the same beats.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from composer.artifacts import model_encoding
from composer.evaluation.evaluate import compare_music, copy_check, load_keras_model, own_sample_nll
from composer.evaluation.features import load_scores
from composer.evaluation.voice_leading import voice_leading_summary
from composer.generation.generate import generate_scores
from composer.generation.request import GenerateRequest

VOICE_LEADING = ("parallel_fifths_per_100", "parallel_octaves_per_100", "voice_crossings_per_100")
SHOWN = (
    "scale_consistency",
    "pitch_class_entropy",
    "consonance",
    "onsets_on_eighth_grid",
    "onsets_on_beat",
    "parts",
    "polyphony",
)


def measure(model: Path, reference: Path, samples: int, length: int, seed: int) -> dict:
    metadata, config = model_encoding(model)
    music = compare_music(reference, model_path=model, samples=samples, num_events=length, seed=seed)
    scores = generate_scores(GenerateRequest(num_events=length, num_files=samples, seed=seed), model)
    own, real = own_sample_nll(load_keras_model(model), scores, metadata, config)
    copies = copy_check(model, samples=samples, num_events=length, seed=seed)
    corpus = list(load_scores(reference)[0].values())
    voices = {
        name: voice_leading_summary([score.before(music["beats"]) for score in pieces])
        for name, pieces in (("generated", scores), ("reference", corpus))
    }
    return {
        "model": str(model),
        "training_seconds": metadata.get("training_seconds"),
        "epochs": len(metadata["history"].get("loss", [])),
        "validation": metadata["metrics"]["validation"],
        "ngram": metadata["metrics"]["ngram_baseline"],
        "own_samples": own,
        "real_cut": real,
        "music": music,
        "copy_check": {key: copies[key] for key in ("flagged", "generated", "held_out")},
        "voice_leading": voices,
    }


def row(result: dict) -> str:
    features = result["music"]["features"]
    shown = " | ".join(
        f"{features[name]['generated']['mean']:.2f} ({features[name]['reference']['mean']:.2f})" for name in SHOWN
    )
    overlaps = {name: f["overlap"] for name, f in features.items() if f["overlap"] is not None}
    worst = min(overlaps, key=overlaps.get)
    valid, own, real = result["validation"], result["own_samples"], result["real_cut"]
    rare = (
        ", ".join(f"{r['instrument']} {r['generated_pieces']}" for r in result["music"]["rare_instruments"]) or "none"
    )
    longest = result["copy_check"]["generated"]["longest_shared_run_transposed"]
    voices = " / ".join(
        f"{result['voice_leading']['generated'][name]:.1f} ({result['voice_leading']['reference'][name]:.1f})"
        for name in VOICE_LEADING
    )
    return (
        f"| {Path(result['model']).parent.name} | {result['epochs']} ep, {result['training_seconds'] / 60:.1f} min "
        f"| {valid['nll_per_event']:.3f} / {valid.get('nll_per_note', float('nan')):.2f} "
        f"(n-gram {result['ngram']['nll_per_event']:.3f}) | {shown} "
        f"| {result['music']['mean_overlap']:.3f} (real {result['music']['overlap_control']['mean_overlap']:.3f}; "
        f"lowest {worst} {overlaps[worst]:.2f}) "
        f"| {result['music']['two_sample_accuracy']:.2f} (real {result['music']['two_sample_control']:.2f}) "
        f"| {own['nll_per_event'] / real['nll_per_event']:.2f} | {rare} "
        f"| {result['copy_check']['flagged']} flagged, longest {longest:g} | {voices} |"
    )


HEADER = (
    "| model | training | valid NLL event / note | " + " | ".join(SHOWN) + " | mean overlap | two-sample "
    "| own NLL / real | rare instruments (pieces) | copy check | parallel fifths / octaves / crossings per 100 "
    "chord changes |"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--reference", type=Path, default=Path("midi_samples"))
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    args = parser.parse_args()
    results = [measure(model, args.reference, args.samples, args.length, args.seed) for model in args.models]
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    for result in results:
        print(row(result))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
