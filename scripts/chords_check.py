"""Chord-following measured: samples over a few common progressions, the rule checked on every strong beat,
and their music against the corpus beside unconstrained samples' (docs/harmonize.md).

    python scripts/chords_check.py MODEL.keras [--samples 10] [--bars 16] [--reference midi_samples] [--json FILE]

For each progression, ``--samples`` pieces of ``--bars`` bars in 4/4 at the default sampling (seed 0); as many
unconstrained pieces of the same length beside them. The rule's figures come from the written scores, not from
the sampler's own bookkeeping: the share of strong beats where every sounding pitched note is a chord tone, and
of chord changes whose lowest note is the chord's bass.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from composer.artifacts import model_encoding
from composer.evaluation.features import compare_sets, load_scores
from composer.generation.chords import ChordGuide, parse_progression
from composer.generation.generate import generate_scores
from composer.generation.request import GenerateRequest
from composer.score import Score

# a chord a bar (pop, a minor cadence, jazz ii-V-I), two a bar, and one a beat as in a chorale
PROGRESSIONS = ("C G Am F", "Am Dm E7 Am", "Dm7 G7 Cmaj7 A7", "C:2 F:2 G7:2 C:2", "C:1 Am:1 F:1 G:1 C:1 Dm:1 G7:1 C:1")
SHOWN = ("scale_consistency", "pitch_class_entropy", "consonance", "onsets_on_beat", "parts")


def rule_figures(scores: list[Score], guide: ChordGuide, steps_per_quarter: int) -> dict[str, float]:
    """Shares of strong beats all in the chord, and of chord starts with the bass lowest, in written scores."""
    in_chord, strong, on_bass, starts = 0, 0, 0, 0
    for score in scores:
        notes = [
            (round(n.start * steps_per_quarter), round(n.end * steps_per_quarter), n.pitch)
            for track in score.tracks
            if not track.is_drum
            for n in track.notes
        ]
        for step in range(max((end for _, end, _ in notes), default=0)):
            sounding = [pitch for start, end, pitch in notes if start <= step < end]
            if sounding and guide.is_strong(step):
                strong += 1
                in_chord += {pitch % 12 for pitch in sounding} <= guide.chord_at(step).tones
            if sounding and guide.starts_chord(step):
                starts += 1
                on_bass += min(sounding) % 12 == guide.chord_at(step).bass
    return {"strong_beats": strong, "all_chord_tones": in_chord / strong, "bass_on_chord_starts": on_bass / starts}


def music_row(scores: list[Score], reference: list[Score]) -> dict:
    """The shown features' means (the corpus's beside them, over the same span) and the set comparisons."""
    result = compare_sets(scores, reference)
    means = {
        name: [float(np.nanmean(result["features"][name][side]["values"])) for side in ("generated", "reference")]
        for name in SHOWN
    }
    return means | {"mean_overlap": result["mean_overlap"], "two_sample": result["two_sample_accuracy"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--reference", type=Path, default=Path("midi_samples"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = model_encoding(args.model)[1]
    reference = list(load_scores(args.reference)[0].values())
    shape = {"num_bars": args.bars, "num_files": args.samples, "time_signature": (4, 4)}
    followed, result = [], {}
    for progression in PROGRESSIONS:
        scores = generate_scores(GenerateRequest(chords=progression, **shape), args.model)
        guide = ChordGuide(parse_progression(progression), (4, 4), config)
        result[progression] = rule_figures(scores, guide, config.steps_per_quarter) | music_row(scores, reference)
        followed += scores
    free = generate_scores(GenerateRequest(**shape | {"num_files": len(followed)}), args.model)
    result |= {"all with chords": music_row(followed, reference), "unconstrained": music_row(free, reference)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
