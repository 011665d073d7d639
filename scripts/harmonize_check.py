"""How well a model harmonizes melodies it never saw: the soprano of each validation chorale, harmonized, against
Bach's own four parts (docs/harmonize.md).

    python scripts/harmonize_check.py MODEL.keras [--seed 0] [--allow-parallels] [--no-cadence] [--out DIR]
        [--json FILE]

For each chorale of the model's validation split (its training folder, split as in training): the highest part
is written to a MIDI file alone and harmonized as `composer harmonize` does (its defaults, ``--seed``). Then,
for the harmonizations and for Bach's chorales: the voice-leading figures (parallel fifths and octaves and
crossings per 100 chord changes, notes out of their voice's range, strong-beat chords that are triads or
sevenths), the share that close on the tonic (``voice_leading.closes_on_the_tonic``), and the classifier
two-sample test and mean feature overlap of the harmonizations against Bach's.
Teacher-forced on Bach's chorales, the NLL of every event but the melody's own (the events a harmonization
chooses), the model's against the n-gram baseline's (refitted on the training split, as `composer evaluate`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from composer.artifacts import model_encoding
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.evaluation.evaluate import load_keras_model, training_split
from composer.evaluation.features import compare_sets
from composer.evaluation.voice_leading import closes_on_the_tonic, voice_leading_summary
from composer.events import DURATION, HOLD, PITCH, PROGRAM, VELOCITY, StreamState, vocabulary
from composer.generation.generate import generate_scores
from composer.generation.melody import read_melody
from composer.generation.request import GenerateRequest
from composer.midi_io import read_score, write_score
from composer.model.ngram import fit_baseline
from composer.model.scoring import event_nlls
from composer.score import Score

MELODY_EVENTS = (PITCH, HOLD, DURATION, VELOCITY)


def harmonizations(
    model: Path, chorales: list[Path], seed: int, out: Path, **options
) -> tuple[list[Score], list[Score], dict]:
    """(harmonizations, Bach's chorales they answer, skipped melodies with the reason)."""
    made, bach, skipped, config = [], [], {}, model_encoding(model)[1]
    for path in chorales:
        score = read_score(path)
        melody_file = out / f"{Path(path).stem}-melody.mid"
        try:
            melody = read_melody(Path(path), None, None, config)
            write_score(Score((melody.track,), score.tempos, score.time_signatures), melody_file, overwrite=True)
            request = GenerateRequest(melody=melody_file, seed=seed, out=out, **options)
            made.append(generate_scores(request, model)[0])
            bach.append(score)
        except ComposerError as error:
            skipped[str(path)] = str(error)
    for index, piece in enumerate(made):
        write_score(piece, out / f"harmonized-{index + 1}.mid", overwrite=True)
    return made, bach, skipped


def melody_mask(tokens: np.ndarray, config: EncodingConfig, program: int) -> np.ndarray:
    """For each event after the first: whether it belongs to the melody (its instrument's notes and program)."""
    vocab, stream, mask = vocabulary(config), StreamState(config), []
    for token in tokens:
        kind, value = vocab.kinds[token], vocab.values[token]
        mask.append((kind == PROGRAM and value == program) or (kind in MELODY_EVENTS and stream.instrument == program))
        stream.feed(int(token))
    return np.array(mask[1:], dtype=bool)


def lower_parts_nll(model: Path, metadata: dict, config: EncodingConfig) -> dict[str, float]:
    """NLL per event of Bach's chorales without the melody's events: the model's and the n-gram's."""
    _, train_files, valid_files = training_split(metadata, config)
    train, valid = [f.tokens for f in train_files], [f.tokens for f in valid_files]
    baseline, fitted = fit_baseline(train, valid, len(vocabulary(config)))
    network = load_keras_model(model)
    totals = {"model": 0.0, "ngram": 0.0, "events": 0}
    for file, (nll, _) in zip(valid_files, event_nlls(network, valid, config=config)):
        soprano = read_melody(Path(file.path), None, None, config).program
        chosen = ~melody_mask(file.tokens, config, soprano)
        ngram = -np.array(baseline.log_probs(file.tokens, fitted["order"]))
        totals["model"] += float(nll[chosen].sum())
        totals["ngram"] += float(ngram[chosen].sum())
        totals["events"] += int(chosen.sum())
    return {
        "model": totals["model"] / totals["events"],
        "ngram": totals["ngram"] / totals["events"],
        "events": totals["events"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--allow-parallels", action="store_true", help="Harmonize as --allow-parallels does.")
    parser.add_argument("--no-cadence", action="store_true", help="Harmonize as --no-cadence does.")
    parser.add_argument("--out", type=Path, help="Keep the melodies and harmonizations here.")
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    args = parser.parse_args()
    metadata, config = model_encoding(args.model)
    valid = [Path(f.path) for f in training_split(metadata, config)[2]]
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        avoid = not args.allow_parallels
        options = {"avoid_parallels": avoid, "cadence": not args.no_cadence}
        made, bach, skipped = harmonizations(args.model, valid, args.seed, out, **options)
    music = compare_sets(made, bach, seed=args.seed)
    result = {
        "melodies": len(valid),
        "harmonized": len(made),
        "skipped": skipped,
        "voice_leading": {"harmonized": voice_leading_summary(made), "bach": voice_leading_summary(bach)},
        "closes_on_the_tonic": {
            name: float(np.mean([closes_on_the_tonic(s) for s in scores]))
            for name, scores in (("harmonized", made), ("bach", bach))
        },
        "two_sample_accuracy": music["two_sample_accuracy"],
        "two_sample_control": music["two_sample_control"],
        "mean_overlap": music["mean_overlap"],
        "overlap_control": music["overlap_control"],
        "lower_parts_nll": lower_parts_nll(args.model, metadata, config),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
