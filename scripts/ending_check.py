"""How pieces end, with and without `generate --ending`, beside the corpus (docs/quality.md, "Endings").

    python scripts/ending_check.py MODEL.keras [--samples 40] [--bars 8] [--reference midi_samples] [--json FILE]

``--samples`` pieces of ``--bars`` bars at the default sampling (seed 0), once stopping on the bar line and once
with ``--ending``; and the reference pieces whole and cut on the same bar line. For each set: the share that closes
on the tonic (``voice_leading.closes_on_the_tonic``), the share whose bass comes into the last chord from the
dominant or subdominant (an authentic or plagal cadence), the share whose last onset is on a beat, and the mean
length in bars.
With one seed both sets share their first ``--bars`` bars note for note (End is masked until then), so they
differ only in how they end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from composer.config import ENDING_BARS
from composer.evaluation.features import load_scores
from composer.evaluation.voice_leading import closes_on_the_tonic
from composer.generation.generate import generate_scores
from composer.generation.request import GenerateRequest
from composer.scales import CADENCE_BASS_STEPS
from composer.score import Score


def bars_of(score: Score) -> float:
    """Bars up to the last note's end, the last one counted in part."""
    end = max(note.end for track in score.tracks for note in track.notes)
    lines = score.bar_lines(end)
    return len(lines) - 1 - (lines[-1] - end) / (lines[-1] - lines[-2])


def last_onset(score: Score) -> float:
    return max(note.start for track in score.tracks if not track.is_drum for note in track.notes)


def bass_steps_into_the_last_chord(score: Score) -> int | None:
    """Semitones (mod 12) from the last chord's lowest note up to the lowest note of the onset before it: 7 in
    an authentic cadence (V-I), 5 in a plagal one (IV-I)."""
    notes = [note for track in score.tracks if not track.is_drum for note in track.notes]
    onsets = sorted({note.start for note in notes})
    if len(onsets) < 2:
        return None

    def bass(beat: float) -> int:
        return min(note.pitch for note in notes if note.start <= beat < note.end or note.start == beat)

    return (bass(onsets[-2]) - bass(onsets[-1])) % 12


def bar_line(score: Score, bars: int) -> float:
    """Where bar ``bars`` ends (a pickup counts as a bar, as the encoding counts it), or the piece's last bar line."""
    lines = score.bar_lines(max(note.end for track in score.tracks for note in track.notes))
    return lines[min(bars, len(lines) - 1)]


def summary(scores: list[Score]) -> dict:
    row = {
        "pieces": len(scores),
        "closes_on_the_tonic": sum(map(closes_on_the_tonic, scores)) / len(scores),
        "mean_bars": sum(map(bars_of, scores)) / len(scores),
    }
    approaches = [bass_steps_into_the_last_chord(score) for score in scores]
    row["from_the_dominant_or_subdominant"] = sum(step in CADENCE_BASS_STEPS for step in approaches) / len(scores)
    row["last_onset_on_a_beat"] = sum(last_onset(score) % 1 == 0 for score in scores) / len(scores)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--reference", type=Path, default=Path("midi_samples"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ending-bars", type=int, default=ENDING_BARS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reference = list(load_scores(args.reference)[0].values())
    cut = [score.before(bar_line(score, args.bars)) for score in reference]
    result = {"reference_whole": summary(reference), "reference_cut": summary(cut)}
    for name, ending in (("stopped", 0), ("ended", args.ending_bars)):
        request = GenerateRequest(num_bars=args.bars, ending_bars=ending, num_files=args.samples, seed=args.seed)
        result[name] = summary(generate_scores(request, args.model))
    for name, row in result.items():
        print(f"{name:16}", "  ".join(f"{key} {value:.3g}" for key, value in row.items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
