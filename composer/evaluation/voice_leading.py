"""Four-part writing of a piece, as counted by a harmony teacher: parallels, crossings, ranges, chords on the beat.

Used to set a model's harmonizations of chorale melodies beside Bach's own four parts. Everything is numpy on the
neutral Score, in beats. A voice is one pitched (non-drum) track with notes; the voices are ordered from the
highest to the lowest by their tracks' mean pitch, so "upper" and "lower" below mean higher and lower in that
order, whatever the track order. A voice sounds at beat t when one of its notes has start <= t < end; its sounding
pitch is that note's (if several sound, the one begun last, the highest of those begun together).

The figures (``voice_leading``; NaN where a figure is undefined):

- ``chord_changes``: the onsets (distinct start times of pitched notes) at which at least two voices sound, less
  the first of them: the moves from one such onset to the next. The denominator of the per-100 figures.
- ``parallel_fifths_per_100`` / ``parallel_octaves_per_100``: over each move (t1 to the next such onset t2) and
  each pair of voices sounding at both, the pairs where both voices move (change pitch) in the same direction and
  the interval between their sounding pitches, |upper - lower| mod 12, is 7 (a perfect fifth) at both t1 and t2,
  resp. 0 (unison or octave) at both; per 100 chord changes. The interval is taken from the lower sounding pitch
  to the higher (it equals upper minus lower unless the two voices cross), so a crossed fourth is never a fifth.
- ``voice_crossings_per_100``: at every onset, the pairs of voices sounding there (any two, not only neighbours)
  whose upper voice sounds strictly below the lower one; per 100 chord changes.
- ``out_of_range_share``: share of the voices' notes outside their voice's usual range (VOICE_RANGES, inclusive).
  The highest voice is the soprano and the lowest the bass; between them come the alto, then tenors (3 voices:
  soprano, alto, bass; 5 or more: the extra middle voices are tenors); a single voice is a soprano.
- ``strong_beat_triads_or_sevenths``: among the strong beats (each bar's downbeat, and its half bar in a meter
  whose numerator is 4: beats 1 and 3 of 4/4; bars from the score's time signatures, 4/4 by default) at which at
  least three distinct pitch classes sound, the share whose sounding pitch-class set is exactly a major, minor,
  diminished or augmented triad, or a dominant, major, minor, half-diminished or diminished seventh chord, or such
  a seventh chord without its fifth, in any transposition (a set: doublings do not matter).

``closes_on_the_tonic`` tells whether a piece ends as a chorale does: the notes sounding at its last onset (of
pitched notes) close in the key of all its notes (``scales.key_of`` and ``scales.is_tonic_close``: a root position
tonic triad, either third). An authentic or plagal close ends so; a half close, a close on another degree or a stop
mid-phrase does not.

``voice_leading_summary`` pools several pieces into one row: counts are summed and divided by the summed chord
changes, notes or strong beats, so that a long chorale weighs more than a short one, as it would in one long piece.
"""

from __future__ import annotations

import math

import numpy as np

from composer.scales import is_tonic_close, key_of
from composer.score import Score, Track, strong_offsets

PERFECT_FIFTH = 7  # semitones, mod 12
OCTAVE = 0  # unison or any number of octaves, mod 12
PER = 100  # the voice-leading figures are counts per 100 chord changes
SILENT = -1  # the sounding pitch of a voice that is not sounding
MIN_VOICES_FOR_CHORD = 2  # an onset where fewer voices sound has no interval to move
MIN_PITCH_CLASSES_FOR_CHORD = 3  # a strong beat with fewer pitch classes cannot tell a triad from a bare interval

# MIDI pitches, inclusive: the usual compass of each voice in a chorale.
VOICE_RANGES = {"soprano": (60, 81), "alto": (53, 77), "tenor": (48, 69), "bass": (36, 64)}

# Pitch-class sets above a root 0; the sevenths also without their fifth ({root, third, seventh}).
_TRIADS = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8))  # major, minor, diminished, augmented
_SEVENTHS = ((0, 4, 7, 10), (0, 4, 7, 11), (0, 3, 7, 10), (0, 3, 6, 10), (0, 3, 6, 9))  # dom, maj, min, half-dim, dim
_CHORDS = _TRIADS + _SEVENTHS + tuple(seventh[:2] + seventh[3:] for seventh in _SEVENTHS)  # (root, 3rd, 5th, 7th)
# Each chord in every transposition, as a 12-bit mask with bit p set for pitch class p.
_CHORD_MASKS = np.unique([sum(1 << ((pc + root) % 12) for pc in chord) for chord in _CHORDS for root in range(12)])
_BIT_COUNTS = np.array([bin(mask).count("1") for mask in range(1 << 12)])  # pitch classes in each 12-bit mask


_COUNT_KEYS = (
    "chord_changes",
    "parallel_fifths",
    "parallel_octaves",
    "crossings",
    "notes",
    "notes_out_of_range",
    "strong_beats",
    "strong_beat_chords",
)


def voice_leading(score: Score) -> dict[str, float]:
    """The voice-leading figures of one piece (see the module docstring for each definition)."""
    return _figures(_counts(score))


def closes_on_the_tonic(score: Score) -> bool:
    """See the module docstring."""
    notes = [note for track in score.tracks if not track.is_drum for note in track.notes]
    if not notes:
        return False
    last = max(note.start for note in notes)
    final = [note.pitch for note in notes if note.start <= last < note.end or note.start == last]
    counts = np.bincount([note.pitch % 12 for note in notes], minlength=12)
    return is_tonic_close(final, key_of(counts))


def voice_leading_summary(scores: list[Score]) -> dict[str, float]:
    """The figures of several pieces pooled as one: their counts summed before dividing, so that a piece with few
    chord changes (whose per-100 figures jump by tens for one parallel) weighs only as much as it has."""
    pieces = [_counts(score) for score in scores]
    return _figures({key: sum(piece[key] for piece in pieces) for key in _COUNT_KEYS})


def _counts(score: Score) -> dict[str, int]:
    """The raw counts behind the figures, which add up over pieces."""
    voices = _voices(score)
    onsets = np.unique([note.start for voice in voices for note in voice.notes])
    pitches = np.stack([_sounding_pitches(voice, onsets) for voice in voices], axis=1) if voices else np.zeros((0, 0))
    chords = pitches[(pitches != SILENT).sum(axis=1) >= MIN_VOICES_FOR_CHORD]
    fifths, octaves = _parallels(chords)
    notes, out_of_range = _out_of_range(voices)
    strong_beats, strong_beat_chords = _strong_beat_chords(score, voices)
    return {
        "chord_changes": max(len(chords) - 1, 0),
        "parallel_fifths": fifths,
        "parallel_octaves": octaves,
        "crossings": _crossings(pitches),
        "notes": notes,
        "notes_out_of_range": out_of_range,
        "strong_beats": strong_beats,
        "strong_beat_chords": strong_beat_chords,
    }


def _figures(counts: dict[str, int]) -> dict[str, float]:
    changes = counts["chord_changes"]
    return {
        "chord_changes": float(changes),
        "parallel_fifths_per_100": _ratio(PER * counts["parallel_fifths"], changes),
        "parallel_octaves_per_100": _ratio(PER * counts["parallel_octaves"], changes),
        "voice_crossings_per_100": _ratio(PER * counts["crossings"], changes),
        "out_of_range_share": _ratio(counts["notes_out_of_range"], counts["notes"]),
        "strong_beat_triads_or_sevenths": _ratio(counts["strong_beat_chords"], counts["strong_beats"]),
    }


def _ratio(count: float, total: int) -> float:
    """``count / total``, NaN when there is nothing to count over (a melody has no chord changes)."""
    return count / total if total else math.nan


def _voices(score: Score) -> list[Track]:
    """The pitched tracks with notes, highest mean pitch first (track order breaks a tie): the order in which a
    voice counts as upper or lower, fixed for the whole piece so that a crossing is seen as one."""
    voices = [track for track in score.tracks if track.notes and not track.is_drum]
    return sorted(voices, key=lambda track: -np.mean([note.pitch for note in track.notes]))


def _sounding_pitches(voice: Track, times: np.ndarray) -> np.ndarray:
    """The voice's sounding pitch at each of ``times``, SILENT where none of its notes sounds; where several do,
    the one begun last (the highest of those begun together), as a voice that overlaps its next note moves on."""
    notes = sorted(voice.notes, key=lambda note: (note.start, note.pitch))
    starts, ends, pitches = (np.array([getattr(note, field) for note in notes]) for field in ("start", "end", "pitch"))
    sounding = (starts[:, None] <= times[None, :]) & (times[None, :] < ends[:, None])  # (notes, times)
    last = len(notes) - 1 - np.argmax(sounding[::-1], axis=0)  # the latest sounding note at each time
    return np.where(sounding.any(axis=0), pitches[last], SILENT)


def _voice_pairs(voices: int) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) voice indices of every pair of voices, each pair once."""
    return np.triu_indices(voices, 1)


def _parallels(chords: np.ndarray) -> tuple[int, int]:
    """Parallel fifths and parallel octaves between consecutive rows of ``chords`` (onsets, voices)."""
    upper, lower = _voice_pairs(chords.shape[1])
    before, after = chords[:-1], chords[1:]
    sounding = (before[:, upper] != SILENT) & (before[:, lower] != SILENT)
    sounding &= (after[:, upper] != SILENT) & (after[:, lower] != SILENT)
    upper_move, lower_move = np.sign(after[:, upper] - before[:, upper]), np.sign(after[:, lower] - before[:, lower])
    similar = sounding & (upper_move != 0) & (upper_move == lower_move)
    interval_before = np.abs(before[:, upper] - before[:, lower]) % 12
    interval_after = np.abs(after[:, upper] - after[:, lower]) % 12

    def parallel(interval: int) -> int:
        return int(np.sum(similar & (interval_before == interval) & (interval_after == interval)))

    return parallel(PERFECT_FIFTH), parallel(OCTAVE)


def _crossings(pitches: np.ndarray) -> int:
    """Pairs of voices sounding together with the upper one strictly below the lower one, summed over onsets."""
    upper, lower = _voice_pairs(pitches.shape[1])
    sounding = (pitches[:, upper] != SILENT) & (pitches[:, lower] != SILENT)
    return int(np.sum(sounding & (pitches[:, upper] < pitches[:, lower])))


def _voice_names(voices: int) -> list[str]:
    """Voice names from the highest voice down: soprano and bass at the ends, alto then tenors between."""
    if voices <= 1:
        return ["soprano"] * voices
    middle = ["alto"] + ["tenor"] * (voices - 3)
    return ["soprano", *middle[: voices - 2], "bass"]


def _out_of_range(voices: list[Track]) -> tuple[int, int]:
    """(notes, notes outside their voice's range in VOICE_RANGES)."""
    notes = out = 0
    for voice, name in zip(voices, _voice_names(len(voices))):
        low, high = VOICE_RANGES[name]
        pitches = np.array([note.pitch for note in voice.notes])
        notes += len(pitches)
        out += int(np.sum((pitches < low) | (pitches > high)))
    return notes, out


def _strong_beats(score: Score) -> np.ndarray:
    """Each bar's downbeat, and its half bar where the meter's numerator is HALF_BAR_NUMERATOR, up to the end of the
    last note; a bar that a change of meter cuts short keeps only the strong beats inside it."""
    end = score.end_beat
    lines = score.bar_lines(end)
    beats = []
    for line, next_line in zip(lines, lines[1:]):
        beats += [line + offset for offset in strong_offsets(score.meter_at(line)) if line + offset < next_line]
    return np.array([beat for beat in beats if beat < end], dtype=np.float64)


def _strong_beat_chords(score: Score, voices: list[Track]) -> tuple[int, int]:
    """(strong beats where at least MIN_PITCH_CLASSES_FOR_CHORD pitch classes sound, those of them whose pitch-class
    set is one of the chords in _CHORD_MASKS)."""
    notes = [note for voice in voices for note in voice.notes]
    beats = _strong_beats(score)
    if not notes or not len(beats):
        return 0, 0
    starts, ends, pitches = (np.array([getattr(note, field) for note in notes]) for field in ("start", "end", "pitch"))
    sounding = (starts[:, None] <= beats[None, :]) & (beats[None, :] < ends[:, None])  # (notes, beats)
    masks = np.bitwise_or.reduce(np.where(sounding, (1 << (pitches % 12))[:, None], 0), axis=0)
    chords = _BIT_COUNTS[masks] >= MIN_PITCH_CLASSES_FOR_CHORD
    return int(chords.sum()), int(np.isin(masks[chords], _CHORD_MASKS).sum())
