"""Names musicians type (keys, scales) as pitch classes. No dependencies: the CLI lists the scales in --help."""

from __future__ import annotations

from composer.errors import ComposerError

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "chromatic": tuple(range(12)),
}
NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def scale_pitch_classes(key: str | None, scale: str | None) -> frozenset[int] | None:
    """The pitch classes of ``scale`` on tonic ``key`` (C when absent); None when no scale is asked for."""
    if scale is None:
        if key is not None:
            raise ComposerError("--key needs --scale (for example --key D --scale minor)")
        return None
    if scale not in SCALES:
        raise ComposerError(f"--scale {scale!r}: choose one of {', '.join(SCALES)}")
    tonic = 0 if key is None else note_class(key)
    return frozenset((tonic + step) % 12 for step in SCALES[scale])


def note_class(name: str) -> int:
    """0-11 for a note name such as C, F#, Bb (any number of sharps and flats)."""
    letter, accidentals = name[:1].upper(), name[1:]
    if letter not in NOTE_NAMES or accidentals.strip("#b♯♭"):
        raise ComposerError(f"--key {name!r}: give a note name such as C, F#, Bb")
    sharps = sum(a in "#♯" for a in accidentals) - sum(a in "b♭" for a in accidentals)
    return (NOTE_NAMES[letter] + sharps) % 12
