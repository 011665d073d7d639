"""Write a synthetic corpus of many small MIDI files, to measure corpus preparation at scale.

The real target is the Lakh MIDI dataset (~176k files), which cannot be downloaded
here. This stands in for it: small, varied pieces (1-4 instruments, sometimes drums,
a key and scale, a tempo and meter, 8-32 bars on a 16th or triplet grid, some
humanised) in two levels of hashed folders (OUT/a/3f/0001234.mid, some .midi or
.MID), a fraction broken on purpose (truncated, not MIDI, empty, header only) and
~0.5% exact byte copies of earlier files. Each file depends only on (--seed, its
index), so the corpus is reproducible and is written in parallel.

Pieces are composer Scores written by composer's own writer, so the files are what
`composer generate` makes: named tracks, a channel per part, tempo and meter set.

    python scripts/make_synthetic_corpus.py OUT [--files 20000] [--seed 0] [--bad-fraction 0.01]
                                                [--workers 2] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from composer.atomic import write_atomic
from composer.errors import ComposerError
from composer.midi_io import score_to_midi
from composer.scales import SCALES
from composer.score import Note, Score, TempoChange, TimeSignature, Track

DUPLICATE_FRACTION, DRUM_FRACTION, HUMANISED_FRACTION = 0.005, 0.1, 0.3
SCALE_WEIGHTS = [
    ("major", 8),
    ("minor", 6),
    ("dorian", 2),
    ("mixolydian", 1),
    ("harmonic-minor", 1),
    ("pentatonic", 1),
    ("minor-pentatonic", 1),
]
METERS = [((4, 4), 60), ((3, 4), 15), ((6, 8), 10), ((2, 4), 5), ((12, 8), 4), ((5, 4), 3), ((7, 8), 3)]
PROGRESSIONS = [(0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4), (1, 4, 0, 0), (0, 0, 3, 4), (5, 3, 0, 4)]  # scale degrees
PROGRAMS = {  # General MIDI programs that suit each role
    "melody": [0, 4, 11, 22, 25, 40, 56, 65, 68, 71, 73, 80, 81],
    "bass": [32, 33, 34, 35, 38, 39, 42, 43, 58],
    "chords": [0, 1, 2, 5, 16, 19, 24, 26, 27, 48, 49, 50, 89],
    "arpeggio": [8, 10, 12, 13, 46, 88, 90, 98, 99],
}
NOT_MIDI = [
    b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n",
    b'Traceback (most recent call last):\n  File "convert.py", line 12\nMemoryError\n',
    b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00",
]
HEADER_ONLY = b"MThd\x00\x00\x00\x06\x00\x01\x00\x03\x01\xe0"  # type 1, 3 tracks promised, 480 PPQ, no tracks
Part = list[tuple[float, float, int]]  # (start, end, pitch): a part before velocities and humanising


class Piece(NamedTuple):
    """What the parts of one file share: key, meter, grid and a chord (a scale degree) per bar."""

    tonic: int  # semitones from C, -5 to 6
    scale: tuple[int, ...]
    numerator: int
    bar_beats: float
    grid: float
    chords: list[int]

    def pitch(self, degree: int, octave: int) -> int:
        """MIDI pitch of a scale degree (any integer, 0 the tonic) about ``octave`` (4 is middle C's)."""
        steps = len(self.scale)
        return 12 * (octave + 1 + degree // steps) + self.tonic + self.scale[degree % steps]


def choose(rng: np.random.Generator, weighted: list[tuple]) -> object:
    """One item of a list of (item, weight) pairs."""
    weights = np.array([weight for _, weight in weighted], dtype=float)
    return weighted[rng.choice(len(weighted), p=weights / weights.sum())][0]


def plan(seed: int, index: int, bad_fraction: float) -> tuple[np.random.Generator, str]:
    """The file's random stream and what the file is: "ok", "bad" or "duplicate" (the stream's first draw)."""
    rng = np.random.default_rng([seed, index])
    draw = rng.random()
    if index > 0 and draw < DUPLICATE_FRACTION:
        return rng, "duplicate"
    return rng, "bad" if draw < DUPLICATE_FRACTION + bad_fraction else "ok"


def file_bytes(seed: int, index: int, bad_fraction: float) -> tuple[bytes, str]:
    """The bytes of file ``index`` and its kind; a duplicate regenerates the bytes of an earlier good file."""
    rng, kind = plan(seed, index, bad_fraction)
    if kind == "duplicate":
        for source in rng.integers(0, index, size=8).tolist():
            if plan(seed, source, bad_fraction)[1] == "ok":
                return file_bytes(seed, source, bad_fraction)[0], kind
        kind = "ok"
    buffer = io.BytesIO()
    score_to_midi(compose(rng)).save(file=buffer)
    data = buffer.getvalue()
    return (broken(rng, data) if kind == "bad" else data), kind


def broken(rng: np.random.Generator, good: bytes) -> bytes:
    """A damaged file: truncated MIDI, text with a MIDI name, an empty file or a header without its tracks."""
    damage = rng.integers(4)
    if damage == 0:
        return good[: rng.integers(15, len(good) - 1)]  # any cut after the 14-byte header loses part of a track
    return NOT_MIDI[rng.integers(len(NOT_MIDI))] if damage == 1 else b"" if damage == 2 else HEADER_ONLY


def relative_path(index: int) -> Path:
    """Two levels of hashed folders, like a real corpus: a/3f/0001234.mid (3% .midi, 2% .MID); the same for any seed."""
    digest = hashlib.blake2s(str(index).encode(), digest_size=4).hexdigest()
    percent = int(digest[3:], 16) % 100
    suffix = ".midi" if percent < 3 else ".MID" if percent < 5 else ".mid"
    return Path(digest[0], digest[1:3], f"{index:07d}{suffix}")


def compose(rng: np.random.Generator) -> Score:
    """A short piece: a chord progression in a key, played by 1-4 instruments (sometimes one of them drums)."""
    scale, tonic = SCALES[choose(rng, SCALE_WEIGHTS)], int(rng.integers(-5, 7))  # G below C up to F# above
    (numerator, denominator), bars = choose(rng, METERS), int(rng.integers(8, 33))
    grid = 1 / 3 if rng.random() < 0.2 else 0.25
    jitter = rng.uniform(0.01, 0.04) if rng.random() < HUMANISED_FRACTION else 0.0
    progression = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    chords = [progression[bar % len(progression)] for bar in range(bars)]
    piece = Piece(tonic, scale, numerator, numerator * 4 / denominator, grid, chords)
    tracks: list[Track] = []
    for role in rng.permutation(list(PROGRAMS))[: rng.integers(1, 5)].tolist():
        program = rng.choice([p for p in PROGRAMS[role] if p not in {track.program for track in tracks}])
        tracks.append(Track(int(program), notes=humanise(rng, PARTS[role](rng, piece), jitter)))
    if rng.random() < DRUM_FRACTION:
        tracks = tracks[:3] + [Track(0, is_drum=True, notes=humanise(rng, drum_part(piece), jitter))]
    tempo, meter = TempoChange(0.0, float(rng.integers(60, 181))), TimeSignature(0.0, numerator, denominator)
    return Score(tuple(tracks), (tempo,), (meter,), length=bars * piece.bar_beats)


def melody_part(rng: np.random.Generator, piece: Piece) -> Part:
    """A random walk over the scale from the first chord's root, with rests and a few chromatic notes."""
    notes, start, degree, end = [], 0.0, piece.chords[0], len(piece.chords) * piece.bar_beats
    lengths = (rng.choice([1, 2, 2, 3, 4, 4, 6, 8], size=512) * piece.grid).tolist()
    steps = rng.choice([-3, -2, -1, -1, 0, 1, 1, 2, 3], size=512).tolist()
    for length, step, draw in zip(lengths, steps, rng.random(512).tolist()):
        if start >= end:
            break
        degree = min(10, max(-3, degree + step))
        if draw > 0.12:  # else a rest
            notes.append((start, start + length, piece.pitch(degree, 5) + (draw > 0.97)))
        start += length
    return notes


def bass_part(rng: np.random.Generator, piece: Piece) -> Part:
    """The chord's root held for the bar, on every beat, or alternating with its fifth."""
    style, bar = rng.integers(3), piece.bar_beats
    beats, length = ([0.0], bar) if style == 0 else (np.arange(0, bar, 1.0).tolist(), 0.9)
    return [
        (i * bar + beat, i * bar + min(beat + length, bar), piece.pitch(chord + 4 * (style == 2 and n % 2), 2))
        for i, chord in enumerate(piece.chords)
        for n, beat in enumerate(beats)
    ]


def chord_part(rng: np.random.Generator, piece: Piece) -> Part:
    """Triads on the progression's degrees, held for the bar or struck every half bar."""
    hits, bar = (1 if rng.random() < 0.5 else 2), piece.bar_beats
    return [
        (i * bar + hit * bar / hits, i * bar + (hit + 1) * bar / hits, piece.pitch(chord + third, 4))
        for i, chord in enumerate(piece.chords)
        for hit in range(hits)
        for third in (0, 2, 4)
    ]


def arpeggio_part(rng: np.random.Generator, piece: Piece) -> Part:
    """The chord's tones up and down, two grid steps each."""
    pattern, step, bar = [0, 2, 4, 7, 4, 2], 2 * piece.grid, piece.bar_beats
    return [
        (i * bar + n * step, i * bar + (n + 1) * step, piece.pitch(chord + pattern[n % 6], 4))
        for i, chord in enumerate(piece.chords)
        for n in range(round(bar / step))
    ]


def drum_part(piece: Piece) -> Part:
    """Kick on the downbeat, snare on the backbeats (mid-bar outside 4/4), closed hi-hat on the eighths."""
    snares = [1.0, 3.0] if piece.numerator == 4 else [piece.bar_beats / 2]
    hits = [(0.0, 36)] + [(beat, 38) for beat in snares] + [(e, 42) for e in np.arange(0, piece.bar_beats, 0.5)]
    return [
        (i * piece.bar_beats + at, i * piece.bar_beats + at + 0.125, drum)
        for i in range(len(piece.chords))
        for at, drum in hits
    ]


PARTS = {"melody": melody_part, "bass": bass_part, "chords": chord_part, "arpeggio": arpeggio_part}


def humanise(rng: np.random.Generator, notes: Part, jitter: float) -> tuple[Note, ...]:
    """Notes with varied velocities (accented on the beat) and, where ``jitter`` > 0, shifted starts."""
    if not notes:
        return ()
    starts, ends, pitches = (np.array(column, dtype=float) for column in zip(*notes))
    accents = 10 * (starts % 1 == 0)
    velocities = np.clip(rng.integers(50, 111) + rng.normal(0, 8, len(notes)) + accents, 1, 127).astype(int)
    if jitter:
        starts = np.maximum(0.0, starts + rng.normal(0, jitter, len(notes)))
    ends = np.maximum(starts + 0.05, ends)
    columns = starts.tolist(), ends.tolist(), pitches.astype(int).tolist(), velocities.tolist()
    return tuple(Note(*note) for note in sorted(zip(*columns)))


def write_chunk(job: tuple[Path, int, list[int], float, bool]) -> tuple[int, int, int, int]:
    """Write the files of some indices; returns (files, bad, duplicates, bytes)."""
    out, seed, indices, bad_fraction, overwrite = job
    bad = duplicates = size = 0
    for index in indices:
        data, kind = file_bytes(seed, index, bad_fraction)
        write_atomic(out / relative_path(index), data, overwrite=overwrite)
        bad, duplicates, size = bad + (kind == "bad"), duplicates + (kind == "duplicate"), size + len(data)
    return len(indices), bad, duplicates, size


def main(argv: list[str] | None = None) -> int:
    """Refuse a non-empty OUT without --force, then write the files on a few cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--files", type=int, default=20000, help="how many files (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--bad-fraction", type=float, default=0.01, help="fraction broken on purpose (default 0.01)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty OUT, replacing its files")
    args = parser.parse_args(argv)
    if args.files < 0 or not 0 <= args.bad_fraction <= 1 - DUPLICATE_FRACTION:
        parser.error("--files must be 0 or more and --bad-fraction between 0 and 0.995")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())) and not args.force:
        print(f"error: {args.out} exists and is not an empty folder; pass --force to write into it", file=sys.stderr)
        return 2
    started, chunk = time.monotonic(), max(1, min(250, args.files // (4 * max(1, args.workers))))
    jobs = [
        (args.out, args.seed, list(range(first, min(first + chunk, args.files))), args.bad_fraction, args.force)
        for first in range(0, args.files, chunk)
    ]
    done = bad = duplicates = size = 0
    try:
        with multiprocessing.Pool(max(1, args.workers)) as pool:
            for files, broken_files, copies, written in pool.imap_unordered(write_chunk, jobs):
                if (done + files) // 1000 > done // 1000:
                    print(f"{done + files}/{args.files} files, {time.monotonic() - started:.1f} s", file=sys.stderr)
                done, bad, duplicates, size = done + files, bad + broken_files, duplicates + copies, size + written
    except ComposerError as error:  # a file could not be written (disk full, or created meanwhile by another run)
        print(f"error: {error}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    print(
        f"{done} files ({bad} bad, {duplicates} duplicates), {size / 1e6:.1f} MB in {seconds:.1f} s: "
        f"{done / max(seconds, 1e-9):.0f} files/s into {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
