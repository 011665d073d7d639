from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from composer.config import EncodingConfig
from composer.events import (
    END,
    PAD,
    START,
    decode,
    encode,
    key_shift,
    opening,
    opening_key,
    parse_opening_key,
    pitch_ranges,
    quantize,
    token_names,
    vocabulary,
)
from composer.midi_io import read_score
from composer.score import Note, Score, TempoChange, TimeSignature, Track

from midi_factory import toy_score
from strategies import scores

SAMPLES = sorted((Path(__file__).parent.parent / "midi_samples").glob("*.mid"))

CONFIGS = [
    EncodingConfig(),
    EncodingConfig(use_velocity=False, use_duration=False),
    EncodingConfig(use_duration=False),
    EncodingConfig(use_velocity=False, use_programs=False, use_tempo=False, use_time_signatures=False),
    EncodingConfig(steps_per_quarter=4, max_duration_quarters=2, min_pitch=36, max_pitch=84, highest_first=False),
    EncodingConfig(steps_per_quarter=1, num_velocity_bins=1, max_time_signature_numerator=4),
]
# the slowest property tests run over the default encoding in the fast lane, over all of them in the full suite
EVERY_CONFIG = [CONFIGS[0], *(pytest.param(config, marks=pytest.mark.slow) for config in CONFIGS[1:])]


@st.composite
def returning_phrases(draw):
    """A piece whose phrase (one to three bars of a drawn score) comes back several times, over changes of
    tempo and meter that may fall anywhere: the repeats that Repeat events write, and the places they must not."""
    phrase = draw(scores)
    bars, times = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    span = 4.0 * bars
    kept = [replace(track, notes=tuple(n for n in track.notes if n.start < span)) for track in phrase.tracks]
    tracks = tuple(
        replace(
            track,
            notes=tuple(
                replace(n, start=n.start + offset, end=n.end + offset)
                for offset in [4.0 + span * i for i in range(times)]
                for n in track.notes
            ),
        )
        for track in kept
    )
    return replace(phrase, tracks=tracks, time_signatures=(TimeSignature(0, 4, 4), *phrase.time_signatures))


@pytest.mark.parametrize("config", EVERY_CONFIG, ids=range(len(CONFIGS)))
@given(score=st.one_of(scores, returning_phrases()))
def test_decode_of_encode_is_quantize(config, score):
    assert decode(encode(score, config), config) == quantize(score, config)


def test_a_change_after_notes_shortened_by_an_overlap_is_dropped_every_time():
    """Found by hypothesis: the piece's end must be measured after same-pitch overlaps are cut."""
    config = EncodingConfig()
    track = Track(0, notes=(Note(0, 1, 60, 96), Note(1 / 12, 2 / 12, 60, 96)))
    once = quantize(Score(tracks=(track,), tempos=(TempoChange(2 / 12, 60),)), config)
    assert [t.qpm for t in once.tempos] == [120] and quantize(once, config) == once


@pytest.mark.parametrize("config", EVERY_CONFIG, ids=range(len(CONFIGS)))
@given(score=scores)
def test_quantize_is_idempotent(config, score):
    once = quantize(score, config)
    assert quantize(once, config) == once


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
@given(data=st.data())
def test_decode_accepts_any_sequence(config, data):
    size = len(vocabulary(config))
    tokens = data.draw(st.lists(st.integers(-5, size + 5), max_size=300))
    score = decode(tokens, config)
    _assert_playable(score, config)
    assert decode(encode(score, config), config) == score


def _assert_playable(score: Score, config: EncodingConfig) -> None:
    step = 1 / config.steps_per_quarter
    for track in score.tracks:
        assert track.notes, "empty tracks are dropped"
        by_pitch = {}
        for note in track.notes:
            assert note.end - note.start >= step - 1e-9, "every note has a length"
            assert config.min_pitch <= note.pitch <= config.max_pitch
            assert 1 <= note.velocity <= 127
            assert (note.start * config.steps_per_quarter).is_integer(), "notes sit on the grid"
            previous = by_pitch.get(note.pitch)
            assert previous is None or previous.end <= note.start, "no overlapping same-pitch notes"
            by_pitch[note.pitch] = note


def _example_score() -> Score:
    return Score(
        tracks=(
            Track(40, notes=(Note(0, 1, 67, 96), Note(1.5, 2, 69, 96), Note(3, 4, 71, 96))),
            Track(42, notes=(Note(0, 2, 48, 96),)),
            Track(0, is_drum=True, notes=(Note(0, 0.25, 36, 127),)),
        ),
        tempos=(TempoChange(0, 80),),
        time_signatures=(TimeSignature(0, 3, 4),),
    )


OPENING = ["Start", "Bar", "TimeSig_3/4", "Key_0", "Part_40", "Part_42", "Part_drums", "Pos_0", "Tempo_80"]


def test_example_encoding_reads_as_music():
    """Bars and positions, the meter, the instruments and the tempo before any note, each onset's notes highest
    first (drums last), held notes restated, instrument and velocity written only when they change."""
    config = EncodingConfig()
    assert token_names(encode(_example_score(), config), config) == OPENING + [
        *("Program_40", "Velocity_96", "Pitch_67", "Duration_12"),
        *("Program_42", "Pitch_48", "Duration_24"),
        *("Program_drums", "Velocity_127", "Pitch_36", "Duration_3"),
        *("Pos_18", "Program_40", "Velocity_96", "Pitch_69", "Duration_6", "Program_42", "Hold_48"),
        *("Bar", "Pos_0", "Program_40", "Pitch_71", "Duration_12", "End"),
    ]


def test_models_of_composer_0_7_list_each_onset_lowest_first():
    config = EncodingConfig.from_dict(
        {key: value for key, value in EncodingConfig().to_dict().items() if key != "highest_first"}
    )
    assert not config.highest_first
    assert token_names(encode(_example_score(), config), config) == OPENING + [
        *("Program_42", "Velocity_96", "Pitch_48", "Duration_24"),
        *("Program_40", "Pitch_67", "Duration_12"),
        *("Program_drums", "Velocity_127", "Pitch_36", "Duration_3"),
        *("Pos_18", "Program_42", "Hold_48", "Program_40", "Velocity_96", "Pitch_69", "Duration_6"),
        *("Bar", "Pos_0", "Pitch_71", "Duration_12", "End"),
    ]


def test_a_meter_change_mid_bar_starts_a_new_bar_there_as_bar_lines_have_it():
    config = EncodingConfig(use_velocity=False, use_programs=False, use_tempo=False)
    score = Score(
        tracks=(Track(0, notes=(Note(0, 1, 60, 100), Note(2, 3, 62, 100), Note(5, 6, 64, 100))),),
        time_signatures=(TimeSignature(0, 4, 4), TimeSignature(2, 3, 4)),
    )
    assert token_names(encode(score, config), config)[1:-1] == [
        "Bar",
        "TimeSig_4/4",
        "Key_0",
        "Pos_0",
        "Pitch_60",
        "Duration_12",
        "Pos_24",
        "TimeSig_3/4",
        "Pitch_62",
        "Duration_12",
        "Bar",
        "Pos_0",
        "Pitch_64",
        "Duration_12",
    ]
    assert score.bar_lines(5) == [0, 2, 5]
    assert decode(encode(score, config), config) == quantize(score, config)


PINNED = [
    ("Bar", None),
    ("Pos", 0),
    ("Pos", 383),
    ("Tempo", 40),
    ("Tempo", 250),
    ("TimeSig", (4, 4)),
    ("Key", -5),
    ("Key", 6),
    ("Part", 0),
    ("Part", 128),
    ("Program", 0),
    ("Program", 128),
    ("Velocity", 127),
    ("Pitch", 0),
    ("Pitch", 127),
    ("Hold", 0),
    ("Hold", 127),
    ("Duration", 96),
]


def test_token_ids_are_pinned():
    """Changing these ids breaks every saved model: do it only on purpose."""
    vocab = vocabulary(EncodingConfig())
    assert (PAD, START, END) == (0, 1, 2)
    assert [vocab.ids["Repeat", 1], vocab.ids["Repeat", 16]] == [4, 19]
    assert [vocab.ids[pair] for pair in PINNED] == [
        3,
        20,
        403,
        404,
        446,
        466,
        511,
        522,
        523,
        651,
        652,
        780,
        812,
        813,
        940,
        941,
        1068,
        1164,
    ]
    assert len(vocab) == 1165


def test_models_from_before_repeats_and_one_key_keep_their_token_ids():
    legacy = EncodingConfig.from_dict(
        {key: value for key, value in EncodingConfig().to_dict().items() if key not in ("repeat_bars", "one_key")}
    )
    assert legacy.repeat_bars == 0 and not legacy.one_key
    vocab = vocabulary(legacy)
    assert [vocab.ids.get(pair) for pair in PINNED] == [
        3,
        4,
        387,
        388,
        430,
        450,
        None,
        None,
        495,
        623,
        624,
        752,
        784,
        785,
        912,
        913,
        1040,
        1136,
    ]
    assert len(vocab) == 1137


def test_switched_off_features_leave_the_vocabulary():
    config = EncodingConfig(
        use_velocity=False,
        use_duration=False,
        use_programs=False,
        use_tempo=False,
        use_time_signatures=False,
        steps_per_quarter=1,
        repeat_bars=0,
        one_key=False,
    )
    names = token_names(range(len(vocabulary(config))), config)
    assert names[:8] == ["Pad", "Start", "End", "Bar", "Pos_0", "Pos_1", "Pos_2", "Pos_3"]
    assert names[8:] == [f"Pitch_{p}" for p in range(128)]


def test_without_durations_notes_last_until_the_next_onset_of_their_instrument():
    config = EncodingConfig(use_duration=False, use_velocity=False)
    melody = Track(0, notes=(Note(0, 0.5, 60, 90), Note(2, 2.5, 62, 90)))
    bass = Track(32, notes=(Note(0, 4, 36, 90),))
    quantized = quantize(Score(tracks=(melody, bass)), config)
    assert [(n.start, n.end) for n in quantized.tracks[0].notes] == [(0, 2), (2, 4)]
    assert [(n.start, n.end) for n in quantized.tracks[1].notes] == [(0, 4)]


def test_same_pitch_overlap_is_cut_and_long_notes_are_shortened():
    config = EncodingConfig(max_duration_quarters=2)
    track = Track(0, notes=(Note(0, 3, 60, 90), Note(1, 2, 60, 90), Note(1, 1.5, 60, 90), Note(4, 40, 62, 90)))
    notes = quantize(Score(tracks=(track,)), config).tracks[0].notes
    assert [(n.start, n.end, n.pitch) for n in notes] == [(0, 1, 60), (1, 2, 60), (4, 6, 62)]


def test_decode_skips_incomplete_notes_and_stops_at_end():
    config = EncodingConfig()
    ids = vocabulary(config).ids
    tokens = [
        ids["Pitch", 60],
        ids["Pos", 12],  # a pitch without a duration: skipped
        ids["Velocity", 127],
        ids["Pitch", 62],
        ids["Duration", 12],
        END,
        ids["Pitch", 64],
        ids["Duration", 12],
    ]
    notes = decode(tokens, config).tracks[0].notes
    assert [(n.start, n.pitch) for n in notes] == [(1.0, 62)]


@pytest.mark.skipif(not SAMPLES, reason="midi_samples/ is empty")
@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_round_trip_on_every_sample(path):
    score = read_score(path)
    config = EncodingConfig()
    quantized = quantize(score, config)
    assert decode(encode(score, config), config) == quantized
    assert quantized.num_notes > 0


def _bars(*contents: list[tuple[float, float, int]]) -> Score:
    """A violin part of 4/4 bars, each given as (start, end, pitch) within its bar."""
    notes = tuple(
        Note(bar * 4 + start, bar * 4 + end, pitch, 96)
        for bar, content in enumerate(contents)
        for start, end, pitch in content
    )
    return Score(tracks=(Track(40, notes=notes),), time_signatures=(TimeSignature(0, 4, 4),))


def test_a_returning_phrase_is_written_as_repeats_keeping_one_k():
    x, a, b = [(0, 4, 67)], [(0, 4, 60)], [(0, 2, 62), (2, 4, 64)]
    config = EncodingConfig()
    score = _bars(x, a, b, b, a, b, b)
    names = token_names(encode(score, config), config)
    assert names[names.index("Pitch_60") - 1 :] == [
        "Pos_0",
        "Pitch_60",
        "Duration_48",
        "Bar",
        "Pos_0",
        "Pitch_62",
        "Duration_24",
        "Pos_24",
        "Pitch_64",
        "Duration_24",
        "Bar",
        "Repeat_1",  # b again
        "Bar",
        "Repeat_3",
        "Bar",
        "Repeat_3",
        "Bar",
        "Repeat_3",  # a b b again: one k, though b b is also 2 back
        "End",
    ]
    assert decode(encode(score, config), config) == quantize(score, config)
    without = EncodingConfig(repeat_bars=0)
    assert "Repeat" not in " ".join(token_names(encode(score, without), without))
    two_back = EncodingConfig(repeat_bars=2)
    assert token_names(encode(score, two_back), two_back)[-9:] == [
        "Bar",
        "Pos_0",
        "Pitch_60",
        "Duration_48",
        "Bar",
        "Repeat_2",
        "Bar",
        "Repeat_1",
        "End",
    ]


def test_the_first_bar_and_bars_of_another_meter_are_not_repeated():
    config = EncodingConfig()
    same_as_first = token_names(encode(_bars([(0, 4, 60)], [(0, 4, 60)]), config), config)
    assert "Repeat" not in " ".join(same_as_first), "the first bar declares the piece"

    def violin(notes, meters):
        return Score(
            tracks=(Track(40, notes=tuple(Note(s, e, p, 96) for s, e, p in notes)),),
            time_signatures=tuple(TimeSignature(beat, n, 4) for beat, n in meters),
        )

    dotted_halves = [(0, 4, 67), (4, 7, 60), (7, 10, 60), (10, 13, 60)]
    names = token_names(encode(violin(dotted_halves, [(0, 4), (4, 3)]), config), config)
    assert names[-7:] == ["Bar", "Pos_0", "Pitch_60", "Duration_36", "Bar", "Repeat_1", "End"], (
        "the bar that sets 3/4 is written out, the next one in full, the one after repeats it"
    )
    changing = violin([(0, 4, 67), (4, 7, 60), (7, 11, 60), (11, 14, 60)], [(0, 4), (4, 3), (7, 4), (11, 3)])
    assert "Repeat" not in " ".join(token_names(encode(changing, config), config)), "each bar sets a meter"
    across_changes = violin(
        [(0, 4, 67), (4, 7, 60), (7, 10, 60), (10, 14, 62), (14, 17, 64), (17, 20, 60)],
        [(0, 4), (4, 3), (10, 4), (14, 3)],
    )
    assert token_names(encode(across_changes, config), config)[-3:] == ["Bar", "Repeat_3", "End"], (
        "a bar in 3/4 again repeats the last plain 3/4 bar"
    )
    assert decode(encode(across_changes, config), config) == quantize(across_changes, config)


def test_a_repeat_out_of_place_is_skipped_by_decode():
    config = EncodingConfig()
    ids = vocabulary(config).ids
    tokens = encode(_bars([(0, 4, 67)], [(0, 4, 60)]), config)[:-1]
    assert decode(tokens + [ids["Bar", None], ids["Repeat", 1], END], config).num_notes == 3
    for wrong in (
        [ids["Bar", None], ids["Repeat", 2]],  # names the first bar
        [ids["Bar", None], ids["Repeat", 9]],  # before the piece began
        [ids["Repeat", 1]],  # not right after a Bar
        [ids["Bar", None], ids["Pos", 0], ids["Repeat", 1]],
    ):
        assert decode(tokens + wrong + [END], config).num_notes == 2, token_names(wrong, config)


@pytest.mark.parametrize(
    "meters, tempos, expected",
    [([(3, 4)], [100.0], ((3, 4), 100)), ([(6, 8), (2, 4)], [62.0, 140.0], ((6, 8), 60)), ([], [], ((4, 4), 120))],
)
def test_a_piece_opens_in_the_meter_and_tempo_it_states_before_its_first_note(meters, tempos, expected):
    score = replace(
        toy_score(0, num_notes=20),
        time_signatures=tuple(TimeSignature(4.0 * i, *m) for i, m in enumerate(meters)),
        tempos=tuple(TempoChange(4.0 * i, qpm) for i, qpm in enumerate(tempos)),
    )
    assert opening(encode(score, EncodingConfig()), EncodingConfig()) == expected
    assert parse_opening_key(opening_key(*expected)) == expected
    untimed = EncodingConfig(use_tempo=False)
    assert opening(encode(score, untimed), untimed) == (expected[0], None)
    assert parse_opening_key(opening_key(expected[0], None)) == (expected[0], None)


def test_pitch_ranges_are_where_each_pitched_instrument_plays_over_all_pieces():
    bar = [Note(0, 1, 67, 90), Note(1, 2, 72, 90), Note(2, 4, 64, 90)]
    violin = Track(40, notes=tuple(replace(n, start=n.start + 4 * k, end=n.end + 4 * k) for k in range(3) for n in bar))
    cello = Track(42, notes=(Note(0, 4, 48, 90), Note(4, 8, 43, 90), Note(8, 12, 43, 90)))
    drums = Track(0, True, notes=(Note(0, 1, 35, 90), Note(1, 2, 81, 90)))
    meter, tempo = (TimeSignature(0, 4, 4),), (TempoChange(0, 90),)
    score = Score(tracks=(violin, cello, drums), tempos=tempo, time_signatures=meter)
    tokens = encode(score, EncodingConfig())
    other = Score(tracks=(Track(40, notes=(Note(0, 1, 76, 90),)),), tempos=(), time_signatures=())
    assert pitch_ranges([tokens, encode(other, EncodingConfig())], EncodingConfig()) == {"40": [64, 76], "42": [43, 48]}


def _in_d_major(*extra: Note) -> Score:
    scale = (62, 64, 66, 67, 69, 71, 73, 74)
    notes = tuple(Note(beat, beat + 1, pitch, 90) for beat, pitch in enumerate(scale)) + extra
    drums = Track(0, is_drum=True, notes=(Note(0, 0.5, 42, 90),))
    return Score(tracks=(Track(40, notes=notes), drums))


def test_a_piece_is_written_in_c_major_and_says_how_far_it_was_moved():
    config, keys_as_written = EncodingConfig(), EncodingConfig(one_key=False)
    tokens = encode(_in_d_major(), config)
    names = token_names(tokens, config)
    assert names[3] == "Key_-2" and key_shift(_in_d_major(), config) == -2
    pitches = [int(name.split("_")[1]) for name in names if name.startswith("Pitch")]
    assert pitches[1] == 42, "drums stay where they are (listed after the first note)"
    assert pitches[:1] + pitches[2:] == [60, 62, 64, 65, 67, 69, 71, 72], "the scale of D major as C major's"
    assert decode(tokens, config) == quantize(_in_d_major(), config) == quantize(_in_d_major(), keys_as_written)


def test_a_note_moved_past_the_pitch_range_comes_back_an_octave_in():
    config = EncodingConfig(max_pitch=72)
    in_g = Score(
        tracks=(
            Track(40, notes=tuple(Note(beat, beat + 1, pitch, 90) for beat, pitch in enumerate((66, 67, 69, 71, 72)))),
        )
    )
    assert key_shift(in_g, config) == 5, "G major up to C"
    pitches = [note.pitch for note in quantize(in_g, config).tracks[0].notes]
    assert pitches == [66, 67, 57, 59, 60], "69, 71 and 72 moved past 72 come back an octave lower"
    assert decode(encode(in_g, config), config) == quantize(in_g, config)


def test_models_before_one_key_keep_each_piece_in_its_own_key():
    config = EncodingConfig.from_dict(
        {key: value for key, value in EncodingConfig().to_dict().items() if key != "one_key"}
    )
    names = token_names(encode(_in_d_major(), config), config)
    assert not any(name.startswith("Key") for name in names) and "Pitch_62" in names
    assert key_shift(_in_d_major(), config) == 0
