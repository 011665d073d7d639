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
# A piece's key: the one of these, on any tonic, holding the most notes (natural minor has its relative major's
# pitch set, so it would add nothing).
KEY_SCALES = ("major", "harmonic-minor")
CADENCE_BASS_STEPS = (7, 5)  # from the tonic up to the bass before it in a cadence: dominant (V-I), subdominant (IV-I)
_TONIC_TRIAD = {0, 3, 4, 7}  # above the root: either third, so that a Picardy close counts
_THIRDS = {3, 4}  # a closing chord has its third: a bare root or an open fifth is no chord
_MODE_SCALES = {False: ("major",), True: ("minor", "harmonic-minor")}
CLOSING_KEY_SLACK = 0.03  # share of a melody's note time: keys this close to the best fit are equally its own
_TO_RELATIVE = {False: 9, True: 3}  # semitones up from a major tonic to its relative minor's, and back


def key_of(pitch_class_counts) -> tuple[int, bool]:
    """(tonic, minor?) of the major or harmonic minor scale holding the most of the notes counted (12 counts,
    from C); the first major, then minor, tonic from C on a tie."""
    fits = _key_fits(pitch_class_counts)
    return max(fits, key=fits.__getitem__)


def _key_fits(pitch_class_counts) -> dict[tuple[int, bool], float]:
    """How much of the notes counted each key's scale (``KEY_SCALES``) holds, per (tonic, minor?): the majors from C,
    then the minors."""
    return {
        (tonic, minor): _in_scale(pitch_class_counts, tonic, KEY_SCALES[minor])
        for minor in (False, True)
        for tonic in range(12)
    }


def key_fit(pitch_class_counts) -> float:
    """The share of the notes counted that lie in the scale of their key (``key_of``): how plainly they keep one."""
    tonic, minor = key_of(pitch_class_counts)
    return _in_scale(pitch_class_counts, tonic, KEY_SCALES[minor]) / sum(pitch_class_counts)


def closing_key(pitch_class_counts, last: int) -> tuple[int, bool] | None:
    """(tonic, minor?) of the key a melody of these notes, ending on pitch class ``last``, closes in: of the keys
    that hold its notes nearly as well as the best (within CLOSING_KEY_SLACK of them; a minor key by its natural or
    harmonic scale), the best with ``last`` as its tonic, else with ``last`` in its tonic triad (either third in
    minor); None if none has. A melody's notes alone often fit two keys (a tune in G without its F sharp fits C as
    well): its last note tells which it ends in."""
    total = sum(pitch_class_counts)
    fits = {
        (tonic, minor): max(_in_scale(pitch_class_counts, tonic, name) for name in _MODE_SCALES[minor]) / total
        for tonic in range(12)
        for minor in (False, True)
    }
    best = max(fits.values())
    near = [key for key, fit in sorted(fits.items(), key=lambda item: -item[1]) if fit >= best - CLOSING_KEY_SLACK]
    for key in near:
        if key[0] == last:
            return key
    for tonic, minor in near:
        if (last - tonic) % 12 in (_TONIC_TRIAD if minor else _TONIC_TRIAD - {3}):
            return tonic, minor
    return None


def _in_scale(pitch_class_counts, tonic: int, name: str) -> float:
    return sum(pitch_class_counts[(tonic + step) % 12] for step in SCALES[name])


def is_tonic_close(pitches, key: tuple[int, bool]) -> bool:
    """Whether a final chord of ``pitches`` closes in ``key``: a root and its third (either), perhaps its fifth,
    nothing else, the root lowest, and the root the key's tonic or its relative's (a chorale in A minor often fits
    C major's notes best, and ends on A)."""
    if not pitches:
        return False
    root = min(pitches) % 12
    steps = {(p - root) % 12 for p in pitches}
    return root in {tonic for tonic, _ in closing_keys(key)} and steps <= _TONIC_TRIAD and bool(steps & _THIRDS)


def closing_keys(key: tuple[int, bool]) -> tuple[tuple[int, bool], tuple[int, bool]]:
    """The keys a piece whose notes best fit ``key`` may end in: that key, and its relative (same notes, the other
    mode)."""
    tonic, minor = key
    return key, ((tonic + _TO_RELATIVE[minor]) % 12, not minor)


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


ONE_KEY_SHIFTS = range(-5, 7)  # semitones a piece moves by to C major or A minor: never more than a tritone
_ONE_KEY_TONICS = {False: 0, True: 9}  # C major, A minor


def shift_to_one_key(pitch_class_counts) -> int:
    """The semitones (-5..6) that move notes of these pitch-class counts into C major or A minor: of the keys that
    hold them as well as the best (``key_of``'s scales), the one that needs the smallest move, upward on a tie. The
    nearest key, so that a piece already in C major or A minor stays where it is."""
    fits = _key_fits(pitch_class_counts)
    best = max(fits.values())
    shifts = [_signed((_ONE_KEY_TONICS[minor] - tonic) % 12) for (tonic, minor), fit in fits.items() if fit == best]
    return min(shifts, key=lambda shift: (abs(shift), -shift))


def _signed(semitones: int) -> int:
    """0..11 semitones up as the nearest move, -5..6."""
    return semitones - 12 if semitones > ONE_KEY_SHIFTS[-1] else semitones
