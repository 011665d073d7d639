"""A copy of a MIDI folder with every piece transposed to C major or A minor: the probe of docs/quality.md's
row 29 ("One key for the whole corpus").

    python scripts/transpose_to_c.py midi_samples/ /tmp/in-c    # then: composer train /tmp/in-c --seed 1

Each piece's key is found as `generate` finds it (``key_of`` over all its pitched notes) and the piece moved by
the smallest transposition (-5 to +6 semitones) that puts its tonic on C (major) or A (minor). Drums stay.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pretty_midi

from composer.data.corpus import find_midi_files
from composer.scales import key_of


def shift_to_c(midi: pretty_midi.PrettyMIDI) -> int:
    """Semitones that move the piece's tonic to C (major) or A (minor), the nearest way."""
    counts = np.zeros(12)
    for note in (n for instrument in midi.instruments if not instrument.is_drum for n in instrument.notes):
        counts[note.pitch % 12] += 1
    tonic, minor = key_of(counts)
    return ((9 if minor else 0) - tonic + 5) % 12 - 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"Error: {args.out} is not empty; give a new folder (nothing in it is replaced)")
    args.out.mkdir(parents=True, exist_ok=True)
    shifts = Counter()
    for path in find_midi_files(args.source):
        midi = pretty_midi.PrettyMIDI(str(path))
        shift = shift_to_c(midi)
        for note in (n for instrument in midi.instruments if not instrument.is_drum for n in instrument.notes):
            note.pitch += shift + 12 * ((note.pitch + shift < 0) - (note.pitch + shift > 127))  # an octave back in
        midi.write(str(args.out / "_".join(Path(path).relative_to(args.source).parts)))
        shifts[shift] += 1
    print("pieces by transposition (semitones):", dict(sorted(shifts.items())))


if __name__ == "__main__":
    main()
