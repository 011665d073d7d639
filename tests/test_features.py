import json
from dataclasses import replace

import numpy as np
import pytest

from composer.errors import ComposerError
from composer.evaluation.features import compare_sets, format_report, load_scores, piece_features, two_sample_test
from composer.midi_io import write_score
from composer.render.plot import plot_feature_comparison
from composer.score import Note, Score, TimeSignature, Track

from midi_factory import toy_score

C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def melody(pitches, length: float = 1.0, *, drums: bool = False) -> Score:
    notes = tuple(Note(i * length, (i + 1) * length, pitch, 90) for i, pitch in enumerate(pitches))
    return Score(tracks=(Track(0, drums, notes=notes),))


def test_quarter_note_scale_has_known_features():
    features = piece_features(melody(C_MAJOR_SCALE))
    assert features["pitch_range"] == 12
    assert features["scale_consistency"] == 1.0
    assert features["polyphony"] == 1.0
    assert features["note_density"] == 1.0
    assert features["empty_beat_rate"] == 0.0
    assert features["repetition"] == 0.0
    assert features["pitch_class_histogram"][0] == 2 / 8  # both Cs
    assert features["pitch_class_histogram"].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(features["duration_histogram"], [0, 0, 0, 0, 1, 0, 0])  # all "1 beat"
    np.testing.assert_array_equal(features["ioi_histogram"], [0, 0, 0, 0, 1, 0, 0])


def test_chords_rests_and_repeated_bars():
    triad = [Note(0, 1, pitch, 90) for pitch in (60, 64, 67)]
    bars = [Note(bar * 4 + note.start, bar * 4 + note.end, note.pitch, 90) for bar in range(3) for note in triad]
    features = piece_features(Score(tracks=(Track(0, notes=tuple(sorted(bars))),)))
    assert features["polyphony"] == 3.0
    assert features["empty_beat_rate"] == pytest.approx(6 / 9)  # beats 0..8, only 0, 4 and 8 sound
    assert features["repetition"] == pytest.approx(2 / 3)  # bars 2 and 3 repeat bar 1


def test_bars_follow_time_signature_changes():
    # A 3/4 bar then 2/4 bars: each holds one note at its downbeat, so every bar after the first repeats it.
    notes = tuple(Note(beat, beat + 1, 60, 90) for beat in (0, 3, 5, 7))
    score = Score(tracks=(Track(0, notes=notes),), time_signatures=(TimeSignature(0, 3, 4), TimeSignature(3, 2, 4)))
    assert piece_features(score)["repetition"] == pytest.approx(3 / 4)


def test_drums_stay_out_of_pitch_features_but_count_as_rhythm():
    drums_only = piece_features(melody([36, 38, 36, 38], drums=True))
    assert all(np.isnan(drums_only[name]).all() for name in ("pitch_class_histogram", "pitch_range", "polyphony"))
    assert drums_only["note_density"] == 1.0 and drums_only["empty_beat_rate"] == 0.0


def test_empty_score_gives_nan_for_every_feature():
    features = piece_features(Score())
    assert all(np.isnan(value).all() for value in features.values())
    assert features["pitch_class_histogram"].shape == (12,)


def test_sets_are_compared_over_the_same_number_of_beats():
    # Each reference piece opens with the generated piece and then wanders far: measured whole, they would
    # differ in range, key and entropy by length alone; over the generated pieces' 8 beats they are the same.
    openings = [
        melody([60 + step, 62 + step, 64 + step, 65 + step, 67 + step, 65 + step, 64 + step, 62 + step])
        for step in range(0, 12, 2)
    ]
    wanderings = [
        replace(
            opening,
            tracks=(
                Track(0, notes=opening.tracks[0].notes + tuple(Note(8 + i, 9 + i, 61 + 5 * i, 90) for i in range(12))),
            ),
        )
        for opening in openings
    ]
    result = compare_sets(openings, wanderings)
    assert result["beats"] == 8
    for name in ("pitch_range", "pitch_class_entropy", "scale_consistency", "note_density"):
        generated, reference = (result["features"][name][side]["mean"] for side in ("generated", "reference"))
        assert generated == pytest.approx(reference), name
    assert "each measured over its first 8 beats" in format_report(result)


def test_identical_sets_overlap_completely():
    pieces = [toy_score(seed, num_notes=40) for seed in range(3)]
    result = compare_sets(pieces, pieces)
    for name, feature in result["features"].items():
        assert feature["overlap"] == pytest.approx(1.0, abs=1e-9), name
        assert feature["kl"] == pytest.approx(0.0, abs=1e-9), name
    assert result["mean_overlap"] == pytest.approx(1.0, abs=1e-9)


def test_disjoint_pitch_classes_do_not_overlap():
    c_major = [melody([60, 64, 67, 72]), melody([48, 52, 55])]
    sharps = [melody([66, 61, 68]), melody([54, 49, 56, 66])]
    result = compare_sets(c_major, sharps)
    assert result["features"]["pitch_class_histogram"]["overlap"] == 0.0
    assert result["features"]["pitch_class_histogram"]["kl"] > 5
    assert result["features"]["polyphony"]["overlap"] == pytest.approx(1.0)  # both sets are melodies


def test_scalar_overlap_falls_as_sets_separate():
    narrow, wide, wider = ([melody([60, 60 + span])] for span in (2, 12, 24))
    close = compare_sets(narrow + wide, wide + narrow)["features"]["pitch_range"]["overlap"]
    apart = compare_sets(narrow, wider)["features"]["pitch_range"]["overlap"]
    assert close == pytest.approx(1.0) and apart < 0.01


def test_result_is_json_and_leaves_out_undefined_pieces():
    result = compare_sets([melody([36, 38], drums=True), melody([60, 62])], [melody([60, 67])])
    json.dumps(result, allow_nan=False)
    assert result["features"]["pitch_range"]["generated"] == {"pieces": 1, "mean": 2.0, "values": [2.0]}
    assert result["features"]["note_density"]["generated"]["pieces"] == 2


def test_sets_without_a_defined_value_report_no_overlap():
    result = compare_sets([melody([36, 38], drums=True)], [melody([60, 62])])
    assert result["features"]["pitch_range"]["overlap"] is None
    assert "| pitch_range | n/a | n/a | n/a | n/a | 2 |" in format_report(result)
    with pytest.raises(ComposerError, match="at least one piece"):
        compare_sets([], [melody([60])])


def test_report_is_a_markdown_table():
    report = format_report(compare_sets([melody(C_MAJOR_SCALE)], [melody(C_MAJOR_SCALE)]))
    assert "| feature | overlap | real vs real | KL | generated mean | reference mean |" in report
    assert "| pitch_range | 1.000 | n/a | 0 | 12 | 12 |" in report  # one reference piece: none to hold out
    assert "peak C (0.25)" in report
    assert "mean overlap 1.000" in report


def test_load_scores_skips_unreadable_files(tmp_path):
    write_score(melody(C_MAJOR_SCALE), tmp_path / "good.mid")
    (tmp_path / "garbage.mid").write_bytes(b"not MIDI at all")
    scores, skipped = load_scores(tmp_path)
    assert {path: score.num_notes for path, score in scores.items()} == {str(tmp_path / "good.mid"): 8}
    assert skipped == {str(tmp_path / "garbage.mid"): "not a MIDI file (no MThd header)"}


def test_load_scores_refuses_a_folder_without_usable_files(tmp_path):
    with pytest.raises(ComposerError, match="no .mid or .midi files"):
        load_scores(tmp_path)
    (tmp_path / "garbage.mid").write_bytes(b"not MIDI at all")
    with pytest.raises(ComposerError, match="none of the 1 MIDI files could be read"):
        load_scores(tmp_path)


def test_comparison_plot_is_a_png(tmp_path):
    drums = melody([36, 38], drums=True)  # no pitch features: plots must cope with a set that has no values
    result = compare_sets([toy_score(1, num_notes=30), drums], [drums])
    path = plot_feature_comparison(result, tmp_path / "features.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def chord(start: float, end: float, pitches) -> list[Note]:
    return [Note(start, end, pitch, 90) for pitch in pitches]


def piece(*notes: Note, signatures=(), program: int = 0) -> Score:
    return Score(tracks=(Track(program, notes=tuple(sorted(notes))),), time_signatures=tuple(signatures))


def test_pitch_class_entropy_counts_each_note_once_in_bits():
    assert piece_features(melody(C_MAJOR_SCALE))["pitch_class_entropy"] == pytest.approx(3 - 2 / 8)  # C twice
    assert piece_features(melody(range(60, 72), length=0.5))["pitch_class_entropy"] == pytest.approx(np.log2(12))
    assert piece_features(melody([60, 72, 48]))["pitch_class_entropy"] == 0.0
    long_c = piece(Note(0, 8, 60, 90), Note(8, 9, 62, 90))  # a long C weighs no more than a short D
    assert piece_features(long_c)["pitch_class_entropy"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "notes, expected",
    [
        (chord(0, 1, (60, 64, 67)), 1.0),  # root-position triad: 4, 7, 3
        (chord(0, 1, (55, 60, 64)), 2 / 3),  # six-four: the fourth G-C stands on the bass
        (chord(0, 1, (48, 55, 60)), 1.0),  # C G C: the fourth G-C lies above the bass
        (chord(0, 1, (60, 61, 62)), 0.0),  # cluster
        # a held C under a melody: E 4, F 5 against the bass, G 7, A 9
        (
            [Note(0, 4, 48, 90)] + [Note(beat, beat + 1, pitch, 90) for beat, pitch in enumerate((64, 65, 67, 69))],
            3 / 4,
        ),
        # C alone, then D and E together over it: D-C 2, E-C 4, D-E 2, each pair once
        ([Note(0, 2, 48, 90), *chord(1, 2, (62, 64))], 1 / 3),
        # a note that has ended is not heard against the next one
        ([Note(0, 1, 60, 90), *chord(1, 2, (64, 67))], 1.0),
    ],
)
def test_consonance_pairs_each_onset_with_the_notes_sounding_then(notes, expected):
    assert piece_features(piece(*notes))["consonance"] == pytest.approx(expected)


def test_consonance_is_undefined_for_a_melody_and_about_half_for_random_pitches():
    assert np.isnan(piece_features(melody(C_MAJOR_SCALE))["consonance"])
    rng = np.random.default_rng(0)
    random_chords = [n for beat in range(200) for n in chord(beat, beat + 1, rng.integers(36, 84, 4).tolist())]
    assert 0.5 < piece_features(piece(*random_chords))["consonance"] < 0.6


def test_onsets_on_the_beat_and_eighth_grid_allow_a_tolerance():
    onsets = (0, 0.5, 1, 1.25, 2 + 1 / 96, 3 + 1 / 3)  # 2 + 1/96 is within 1/48 of beat 2
    features = piece_features(piece(*(Note(t, t + 0.25, 60, 90) for t in onsets)))
    assert features["onsets_on_beat"] == pytest.approx(3 / 6)
    assert features["onsets_on_eighth_grid"] == pytest.approx(4 / 6)


def test_the_beat_grid_starts_at_each_bar_line():
    three_eight = [Note(t, t + 0.5, 60, 90) for t in (0, 1.5 - 1 / 96, 2.5, 3, 3.5)]  # bars at 0, 1.5, 3
    features = piece_features(piece(*three_eight, signatures=[TimeSignature(0, 3, 8)]))
    assert features["onsets_on_beat"] == pytest.approx(4 / 5)  # only 3.5 falls between beats of its bar
    pickup = [Note(t, t + 0.5, 60, 90) for t in (0, 0.5, 1.5, 2.5)]  # an eighth-note upbeat, then 4/4 from 0.5
    features = piece_features(piece(*pickup, signatures=[TimeSignature(0, 1, 8), TimeSignature(0.5, 4, 4)]))
    assert features["onsets_on_beat"] == 1.0
    off_beat_drums = piece_features(melody([36, 38], length=0.25, drums=True))  # onsets 0 and 0.25
    assert off_beat_drums["onsets_on_beat"] == 0.5 and off_beat_drums["onsets_on_eighth_grid"] == 0.5


def test_parts_and_instruments_count_the_tracks_that_play():
    violin, silent_viola, drums = Track(40, notes=(Note(0, 1, 60, 90),)), Track(41), melody([36], drums=True).tracks[0]
    score = Score(tracks=(violin, silent_viola, drums))
    features = piece_features(score)
    assert features["parts"] == 2  # the silent viola does not count
    assert np.flatnonzero(features["instruments"]).tolist() == [40, 128]
    np.testing.assert_allclose(features["instruments"][[40, 128]], [0.5, 0.5])


def test_instruments_rare_in_the_reference_are_listed_with_how_many_pieces_use_them():
    piano, banjo = melody([60, 62]), piece(Note(0, 1, 60, 90), program=105)
    with_drums = Score(tracks=piano.tracks + melody([36], drums=True).tracks)
    result = compare_sets([banjo, banjo, with_drums], [piano] * 60 + [banjo])
    assert result["rare_instruments"] == [
        {"instrument": "Banjo", "program": 105, "generated_pieces": 2, "reference_share": pytest.approx(1 / 61)},
        {"instrument": "drums", "program": "drums", "generated_pieces": 1, "reference_share": 0.0},
    ]
    using = result["features"]["instruments"]
    assert using["generated"]["pieces_using"] == pytest.approx(
        {"Banjo": 2 / 3, "Acoustic Grand Piano": 1 / 3, "drums": 1 / 3}
    )
    assert using["reference"]["pieces_using"] == pytest.approx({"Acoustic Grand Piano": 60 / 61, "Banjo": 1 / 61})
    report = format_report(result)
    assert "Banjo in 2 of 3 generated pieces (reference 1.6%)" in report
    assert "| Banjo | 66.7% | 1.6% |" in report
    assert compare_sets([piano], [piano] * 49 + [banjo])["rare_instruments"] == []  # 2% is not rare


def test_every_new_feature_is_compared_and_counts_in_the_mean_overlap():
    over_bass = piece(Note(0, 4, 48, 90), *melody([64, 65, 67, 69]).tracks[0].notes)
    clusters = piece(*chord(0, 1, (60, 61, 62, 63)), *chord(1, 2, (60, 61, 62, 63)))
    result = compare_sets([over_bass], [clusters])
    new = ("pitch_class_entropy", "consonance", "onsets_on_beat", "onsets_on_eighth_grid", "parts", "instruments")
    assert set(new) <= set(result["features"])
    overlaps = [feature["overlap"] for feature in result["features"].values()]
    assert result["mean_overlap"] == pytest.approx(np.mean(overlaps))
    report = format_report(result)
    assert all(f"| {name} |" in report for name in new)


def random_melodies(seeds, beats: int = 32) -> list[Score]:
    """C major quarter and eighth notes, ``beats`` long: one distribution, a piece per seed."""
    pieces = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        lengths = rng.choice([0.5, 1.0], size=2 * beats)
        starts = np.concatenate([[0], np.cumsum(lengths)])[:-1]
        keep = starts < beats
        pitches = rng.choice(C_MAJOR_SCALE, size=len(starts))
        pieces.append(
            piece(
                *(
                    Note(float(s), float(s + d), int(p), 90)
                    for s, d, p in zip(starts[keep], lengths[keep], pitches[keep])
                )
            )
        )
    return pieces


def test_two_samples_of_one_distribution_cannot_be_told_apart():
    result = two_sample_test(random_melodies(range(40)), random_melodies(range(40, 100)))
    assert result["two_sample_accuracy"] == pytest.approx(0.5, abs=0.15)
    assert result["two_sample_control"] == pytest.approx(0.5, abs=0.15)
    assert result["two_sample"] == {
        "beats": 32.0,
        "pieces_per_set": 40,
        "control_pieces_per_set": 30,
        "neighbours": 5,
        "repeats": 10,
        "seed": 0,
    }


def test_melodies_and_chromatic_clusters_are_told_apart_every_time():
    clusters = [
        piece(*(n for beat in range(16) for n in chord(beat, beat + 1, range(60 + s, 66 + s)))) for s in range(20)
    ]
    result = compare_sets(clusters, random_melodies(range(40)))
    assert result["two_sample_accuracy"] == 1.0
    assert result["two_sample_control"] == pytest.approx(0.5, abs=0.15)  # the melodies against each other
    report = format_report(result)
    assert "generated vs reference accuracy 1.000 (20 pieces a side)" in report and "(20 a side)" in report


def leaps(seed: int, delay: float) -> list[Score]:
    """Twenty melodies leaping between two pitches: a random low one and one a random span (0-39) above."""
    rng = np.random.default_rng(seed)
    lows, spans = rng.integers(30, 50, 20).tolist(), rng.integers(0, 40, 20).tolist()
    return [
        piece(*(Note(i + delay, i + 1 + delay, low + span * (i % 2), 90) for i in range(16)))
        for low, span in zip(lows, spans)
    ]


def test_a_difference_of_small_numbers_is_found_among_large_ones():
    # Each column is standardised: onsets a triplet late (0 or 1 on the beat) stand out among pitch ranges
    # that vary by tens of semitones in both sets.
    assert two_sample_test(leaps(0, delay=0), leaps(1, delay=1 / 3))["two_sample_accuracy"] == 1.0


def test_pieces_are_compared_over_the_same_number_of_beats():
    # The same melodies, but each generated one goes on with 32 beats of clusters: only its first 32 beats count.
    tails = [n for beat in range(32, 64) for n in chord(beat, beat + 1, range(60, 66))]
    longer = [
        replace(m, tracks=(Track(0, notes=m.tracks[0].notes + tuple(tails)),)) for m in random_melodies(range(30))
    ]
    result = two_sample_test(longer, random_melodies(range(30, 60)))
    assert result["two_sample"]["beats"] == 32.0
    assert result["two_sample_accuracy"] == pytest.approx(0.5, abs=0.15)


def test_the_two_sample_test_is_repeatable_and_needs_three_pieces_a_side():
    pieces = random_melodies(range(12))
    assert two_sample_test(pieces[:6], pieces[6:], seed=3) == two_sample_test(pieces[:6], pieces[6:], seed=3)
    few = compare_sets(pieces[:2], pieces[2:8])
    assert few["two_sample_accuracy"] is None and few["two_sample_control"] is None
    assert "accuracy n/a (2 pieces a side); real vs real n/a (2 a side)" in format_report(few)
    json.dumps(few, allow_nan=False)
    small_reference = two_sample_test(pieces[:4], pieces[4:9])  # 5 reference pieces make halves of 2
    assert small_reference["two_sample_accuracy"] is not None and small_reference["two_sample_control"] is None


def test_the_overlaps_control_holds_reference_pieces_out_against_the_others():
    same = [melody(C_MAJOR_SCALE)] * 12  # every held-out draw is the rest of the reference exactly
    result = compare_sets(random_melodies(range(8)), same)
    control = result["overlap_control"]
    assert control["pieces"] == 6 and control["draws"] == 5  # 8 generated, but only half the reference is held out
    assert control["mean_overlap"] == pytest.approx(1.0, abs=1e-9)
    assert all(overlap in (None, pytest.approx(1.0, abs=1e-9)) for overlap in control["features"].values())
    assert result["mean_overlap"] < 0.9
    report = format_report(result)
    assert "real vs real 1.000 (1.000-1.000: 6 reference pieces held out against the rest, 5 draws)" in report
    assert "| scale_consistency | 1.000 | 1.000 |" in report


def test_the_overlaps_control_reads_the_reference_only_and_needs_three_pieces_held_out():
    reference = random_melodies(range(40, 70))
    control = compare_sets(random_melodies(range(10)), reference)["overlap_control"]
    assert compare_sets(random_melodies(range(10, 20)), reference)["overlap_control"] == control
    low, high = control["mean_overlap_range"]
    assert 0.5 < low <= control["mean_overlap"] <= high < 1.0  # melodies of one kind, but not the same ones
    assert compare_sets(random_melodies(range(2)), reference)["overlap_control"] is None
    assert "real vs real: n/a" in format_report(compare_sets(reference[:4], reference[4:9]))
