"""Convert the Bach chorales bundled with music21 into the MIDI files of midi_samples/.

music21's own MIDI export writes every part on channel 0 with program 0 at
10,080 PPQ, which DAWs merge into one piano track; so the notes are read with
music21 and written through composer's own writer instead: 480 PPQ, one named
track per voice on its own channel with its own instrument, tempo and time
signature once at the start, and the pickup bar padded so bar lines fall where a
DAW draws them.

    python scripts/make_samples.py [--out midi_samples] [--force]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

from music21 import corpus, meter, repeat, tempo

from composer.midi_io import write_score
from composer.score import Note, Score, TempoChange, TimeSignature, Track

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "midi_samples"
DEFAULT_QPM = 80.0  # a calm chorale tempo, for scores without a metronome mark
DEFAULT_VELOCITY = 80  # mezzo-forte, one of the encoding's velocity levels
# Strings for SATB, then winds: every voice its own General MIDI program, since
# the encoding merges parts that share one.
PROGRAMS = [40, 41, 42, 43, 71, 70, 68, 73, 60, 57, 56, 58]


def chorale_sources() -> list[str]:
    """Distinct chorale files: music21's iterator lists some chorales more than once."""
    names = corpus.chorales.Iterator(returnType="filename")
    return sorted(set(names))


def convert(name: str, out: Path) -> tuple[str, str]:
    """Write one chorale; returns (name, 'ok' | 'fallback' | 'skipped: reason')."""
    try:
        source = corpus.parse(name, forceSource=True)  # never a stale parse from music21's cache
    except Exception as error:  # music21 raises many types on files it cannot read
        return name, f"skipped: cannot parse ({error})"
    status = "ok"
    try:
        expanded = source.expandRepeats()
    except repeat.ExpanderException:
        expanded, status = source, "fallback"
    score = to_score(expanded)
    if not score.num_notes:
        return name, "skipped: no notes"
    write_score(score, out / f"{Path(name).name}.mid", overwrite=True)
    return name, status


def to_score(source) -> Score:
    """Notes of every part, shifted so the first full bar starts on a bar line."""
    offset = _pickup_padding(source)
    tracks = tuple(
        Track(program=PROGRAMS[index % len(PROGRAMS)], name=part.partName or f"Part {index + 1}",
              notes=_part_notes(part, offset))
        for index, part in enumerate(source.parts)
    )  # fmt: skip
    return Score(
        tracks=tuple(track for track in tracks if track.notes),
        tempos=(TempoChange(0.0, _tempo(source)),),
        time_signatures=(_time_signature(source),),
    )


def _part_notes(part, offset: float) -> tuple[Note, ...]:
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes take no time in the score
            continue
        start = float(element.offset) + offset
        velocity = element.volume.velocity or DEFAULT_VELOCITY
        notes += [Note(start, start + length, pitch.midi, velocity) for pitch in element.pitches]
    return tuple(sorted(notes))


def _pickup_padding(source) -> float:
    measures = source.parts[0].getElementsByClass("Measure") if source.parts else []
    return float(measures[0].paddingLeft) if measures else 0.0


def _tempo(source) -> float:
    marks = list(source.recurse().getElementsByClass(tempo.MetronomeMark))
    qpm = marks[0].getQuarterBPM() if marks else None
    return float(qpm) if qpm else DEFAULT_QPM


def _time_signature(source) -> TimeSignature:
    signatures = list(source.recurse().getElementsByClass(meter.TimeSignature))
    first = signatures[0] if signatures else meter.TimeSignature("4/4")
    return TimeSignature(0.0, first.numerator, first.denominator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="replace existing files in --out")
    args = parser.parse_args(argv)
    names = chorale_sources()
    existing = [n for n in names if (args.out / f"{Path(n).name}.mid").exists()]
    if existing and not args.force:
        print(f"error: {len(existing)} files already exist in {args.out}; pass --force to replace them")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with multiprocessing.Pool() as pool:
        results = pool.starmap(convert, [(name, args.out) for name in names])
    for name, status in results:
        if status.startswith("skipped"):
            print(f"{name}: {status}")
    counts = {key: sum(s.startswith(key) for _, s in results) for key in ("ok", "fallback", "skipped")}
    print(f"{len(names)} chorales: {counts['ok']} converted, {counts['fallback']} converted without expanding "
          f"malformed repeats, {counts['skipped']} skipped, in {time.time() - started:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
