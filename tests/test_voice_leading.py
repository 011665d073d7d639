import math

import pytest

from composer.evaluation.voice_leading import closes_on_the_tonic, voice_leading, voice_leading_summary
from composer.score import Note, Score, TimeSignature, Track

# C major (C4 E4 G4 over C3), then F major over D (one parallel fifth, soprano and bass: C3-G4 to D3-A4), then G major
# (every voice moves down; no other fifth or octave repeats).
FIFTHS_PROGRESSION = ((67, 64, 60, 48), (69, 65, 60, 50), (67, 62, 59, 43))


def chorale(*chords, beats: float = 1.0, time_signatures=()) -> Score:
    """One chord per ``beats`` beats, each given from the highest voice to the lowest, one track a voice;
    None rests that voice."""
    voices = []
    for voice in zip(*chords):
        notes = tuple(Note(i * beats, (i + 1) * beats, pitch, 80) for i, pitch in enumerate(voice) if pitch is not None)
        voices.append(Track(52, notes=notes))
    return Score(tracks=tuple(voices), time_signatures=tuple(time_signatures))


def test_one_parallel_fifth_between_soprano_and_bass():
    figures = voice_leading(chorale(*FIFTHS_PROGRESSION))
    assert figures["chord_changes"] == 2
    assert figures["parallel_fifths_per_100"] == pytest.approx(100 * 1 / 2)
    assert figures["parallel_octaves_per_100"] == 0
    assert figures["voice_crossings_per_100"] == 0
    assert figures["out_of_range_share"] == 0


def test_contrary_motion_into_a_fifth_is_not_parallel():
    # G4 over C3 to A4 over D2: a fifth (plus octaves) both times, but the soprano rises while the bass falls.
    assert voice_leading(chorale((67, 48), (69, 38)))["parallel_fifths_per_100"] == 0


def test_a_voice_that_does_not_move_makes_no_parallel():
    oblique = voice_leading(chorale((67, 48), (79, 48)))  # the soprano leaps an octave over a held bass: fifth twice
    repeated = voice_leading(chorale((67, 48), (67, 48)))  # both voices repeat their fifth
    assert oblique["chord_changes"] == repeated["chord_changes"] == 1
    assert oblique["parallel_fifths_per_100"] == repeated["parallel_fifths_per_100"] == 0


def test_crossed_voices_a_fourth_apart_make_no_fifth():
    # The upper voice (by mean pitch) crosses below the lower one and they move up in fourths (C4-F4 to D4-G4):
    # upper minus lower is -5, which mod 12 would read as a fifth; the sounding interval is a fourth.
    figures = voice_leading(chorale((79, 48), (60, 65), (62, 67)))
    assert figures["voice_crossings_per_100"] == 100  # both chords after the first are crossed
    assert figures["parallel_fifths_per_100"] == 0


def test_parallel_octave_counts_as_octave_not_fifth():
    figures = voice_leading(chorale((72, 48), (74, 50)))
    assert figures["parallel_octaves_per_100"] == 100
    assert figures["parallel_fifths_per_100"] == 0


def test_one_crossing_counted_in_mean_pitch_order():
    # On beat 2 the alto (G4 -> A4) climbs above the soprano (C5 -> G4); by mean pitch the soprano is still the top
    # voice. The tracks are given bottom voice first, so the order must come from the pitches, not the tracks.
    score = chorale((72, 67, 64, 48), (67, 69, 64, 53), (72, 67, 64, 48))
    figures = voice_leading(Score(tracks=score.tracks[::-1]))
    assert figures["chord_changes"] == 2
    assert figures["voice_crossings_per_100"] == pytest.approx(100 * 1 / 2)


def test_a_note_out_of_its_voices_range_is_counted():
    high_soprano = voice_leading(chorale((84, 64, 60, 48), *FIFTHS_PROGRESSION[1:]))  # C6 is above the soprano's A5
    assert high_soprano["out_of_range_share"] == pytest.approx(1 / 12)
    # With three voices the middle one is an alto, so D3 (a tenor's note) is out of range.
    assert voice_leading(chorale((72, 50, 48), (72, 60, 48)))["out_of_range_share"] == pytest.approx(1 / 6)


@pytest.mark.parametrize(
    ("chord", "expected"),
    [
        ((67, 64, 60, 48), 1.0),  # C-E-G: major triad
        ((65, 62, 59, 43), 1.0),  # G-B-D-F: dominant seventh
        ((65, 59, 55, 43), 1.0),  # G-B-F: dominant seventh without its fifth
        ((64, 62, 60, 48), 0.0),  # C-D-E: a cluster
    ],
)
def test_strong_beat_pitch_class_sets(chord, expected):
    assert voice_leading(chorale(chord))["strong_beat_triads_or_sevenths"] == expected


def test_only_beats_one_and_three_of_four_four_are_strong():
    triad, seventh, cluster = (67, 64, 60, 48), (65, 62, 59, 43), (64, 62, 60, 48)
    assert voice_leading(chorale(triad, cluster, seventh, cluster))["strong_beat_triads_or_sevenths"] == 1.0
    assert voice_leading(chorale(triad, triad, cluster, triad))["strong_beat_triads_or_sevenths"] == 0.5
    # In 3/4 only the downbeat is strong: neither the half bar (beat 1.5) nor beat offset 2 is looked at.
    three_four = chorale(triad, cluster, cluster, time_signatures=[TimeSignature(0, 3, 4)])
    assert voice_leading(three_four)["strong_beat_triads_or_sevenths"] == 1.0


def test_pooling_sums_counts_before_dividing():
    fifths = chorale(*FIFTHS_PROGRESSION)  # 2 chord changes, 1 parallel fifth, 12 notes in range, 2 chords of 2
    octaves = chorale((72, 36), (70, 34))  # 1 chord change, 1 parallel octave; B-flat 1 is below the bass's C2
    cluster = chorale((64, 62, 60, 48))  # no chord change, 4 notes in range, a strong beat that is not a chord
    pooled = voice_leading_summary([fifths, octaves, cluster])
    assert pooled["chord_changes"] == 3
    assert pooled["parallel_fifths_per_100"] == pytest.approx(100 * 1 / 3)  # not the mean of 50 and 0
    assert pooled["parallel_octaves_per_100"] == pytest.approx(100 * 1 / 3)
    assert pooled["voice_crossings_per_100"] == 0
    assert pooled["out_of_range_share"] == pytest.approx(1 / 20)  # 1 of 12 + 4 + 4 notes, not the mean of 0, 1/4, 0
    assert pooled["strong_beat_triads_or_sevenths"] == pytest.approx(2 / 3)  # not the mean of 1 and 0


def test_undefined_figures_are_nan():
    melody = voice_leading(chorale((60,), (62,), (64,)))
    assert melody["chord_changes"] == 0
    assert all(math.isnan(melody[name]) for name in ("parallel_fifths_per_100", "strong_beat_triads_or_sevenths"))
    assert melody["out_of_range_share"] == 0
    empty = voice_leading(Score())
    assert empty["chord_changes"] == 0 and math.isnan(empty["out_of_range_share"])
    assert math.isnan(voice_leading_summary([])["voice_crossings_per_100"])


# A cadence in C major, voices from the top: IV (F-A-C over F), V7 (G-B-D-F), then the last chord.
C_MAJOR_APPROACH = ((72, 69, 65, 53), (71, 67, 62, 43), (74, 71, 65, 55))


@pytest.mark.parametrize(
    ("last", "closes"),
    [
        ((72, 67, 64, 48), True),  # C-E-G over C: an authentic close
        ((72, 67, 63, 48), True),  # C-Eb-G over C: in a major-key piece too (the third may be either)
        ((72, 64, 60, None), True),  # with the bass resting, the lowest sounding note is C
        ((67, 62, 59, 43), False),  # G-B-D over G: a half close on the dominant
        ((74, 69, 65, 50), False),  # D-F-A over D: a close on the second degree
        ((76, 69, 61, 45), True),  # A-C#-E over A: the relative minor's tonic with a Picardy third
        ((72, 67, 64, 52), False),  # C major over E: an inverted tonic, not a close
        ((74, 67, 64, 48), False),  # D over the C triad: not only the tonic triad
        ((72, 67, 60, 48), False),  # C-G over C: an open fifth, no third
        ((None, None, None, 48), False),  # the bass's C alone
    ],
)
def test_closes_on_the_tonic_of_the_key(last, closes):
    assert closes_on_the_tonic(chorale(*C_MAJOR_APPROACH, last)) is closes


def test_a_note_held_into_the_last_onset_sounds_in_its_chord():
    held = Score(
        tracks=(
            Track(52, notes=(Note(0, 4, 67, 80),)),
            Track(52, notes=(Note(0, 4, 64, 80),)),
            Track(52, notes=(Note(0, 2, 60, 80), Note(2, 3, 48, 80))),
        )
    )
    assert closes_on_the_tonic(held)  # G and E held over the bass's C: the tonic triad (key C by the notes)
    seventh = Score(tracks=(*held.tracks, Track(52, notes=(Note(0, 4, 70, 80),))))
    assert not closes_on_the_tonic(seventh)  # B-flat held into the last onset: C7, no close
    assert not closes_on_the_tonic(Score(tracks=()))
