import json

import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import DRUMS, PITCH, StreamState, bar_steps, decode, encode, vocabulary
from composer.generation.chords import ChordGuide, cadence_guide, chord, parse_progression
from composer.generation.melody import Melody, MelodyGuide
from composer.generation.sample import Constraints, SamplingOptions, sample_pieces
from composer.midi_io import read_score, write_score
from composer.score import Note, Score, TimeSignature, Track

from random_networks import random_network

CONFIG = EncodingConfig()
SPQ = CONFIG.steps_per_quarter


@pytest.mark.parametrize(
    "symbol, tones, bass",
    [
        ("C", {0, 4, 7}, 0),
        ("Am", {9, 0, 4}, 9),
        ("G7", {7, 11, 2, 5}, 7),
        ("Fmaj7", {5, 9, 0, 4}, 5),
        ("Bbm7", {10, 1, 5, 8}, 10),
        ("Bdim", {11, 2, 5}, 11),
        ("F#m7b5", {6, 9, 0, 4}, 6),
        ("Eaug", {4, 8, 0}, 4),
        ("Dsus4", {2, 7, 9}, 2),
        ("Dsus2", {2, 4, 9}, 2),
        ("C/E", {0, 4, 7}, 4),
        ("Am/G", {9, 0, 4, 7}, 7),
    ],
)
def test_chord_symbols_name_their_tones_and_bass(symbol, tones, bass):
    assert chord(symbol).tones == tones and chord(symbol).bass == bass


@pytest.mark.parametrize(
    "text, reason",
    [
        ("H7", "'H7' is not a chord symbol"),
        ("Cxyz", "'Cxyz' is not a chord"),
        ("C:0", "positive number of beats"),
        ("C:x", "positive number of beats"),
        ("  ", "at least one chord"),
    ],
)
def test_a_progression_that_cannot_be_read_is_refused(text, reason):
    with pytest.raises(ComposerError, match=reason):
        parse_progression(text)


def test_a_model_listing_its_onsets_lowest_first_cannot_follow_chords():
    with pytest.raises(ComposerError, match="--chords needs a model that lists each onset highest first"):
        ChordGuide(parse_progression("C"), (4, 4), EncodingConfig(highest_first=False))


def test_chords_last_a_bar_unless_their_beats_are_given():
    guide = ChordGuide(parse_progression("C:2 G:2 Am"), (3, 4), CONFIG)
    assert [guide.chord_at(step * SPQ).symbol for step in range(9)] == ["C", "C", "G", "G", "Am", "Am", "Am", "C", "C"]
    assert guide.starts_chord(7 * SPQ) and not guide.starts_chord(8 * SPQ), "the progression starts again"


def _check_the_rule(tokens: list[int], end: int, guide: ChordGuide) -> int:
    """Asserts the chord rule on one sampled stream up to step ``end`` (where its last bar ends); returns how
    many strong beats had notes sounding."""
    score = decode(tokens, CONFIG)
    pitched = [
        (round(n.start * SPQ), round(n.end * SPQ), n.pitch) for t in score.tracks if not t.is_drum for n in t.notes
    ]
    checked = 0
    for step in range(end):
        sounding = [pitch for start, stop, pitch in pitched if start <= step < stop]
        if sounding and guide.is_strong(step):
            checked += 1
            assert {pitch % 12 for pitch in sounding} <= guide.chord_at(step).tones, step
        if sounding and guide.starts_chord(step):
            assert min(sounding) % 12 == guide.chord_at(step).bass, step
    stream, vocab = StreamState(CONFIG), vocabulary(CONFIG)
    for token in tokens:  # off the strong beats, a non-chord tone is a step from its part's previous note
        follows = stream.instrument not in (DRUMS, guide.exempt) and stream.now >= guide.start
        if vocab.kinds[token] == PITCH and follows and not guide.is_strong(stream.now):
            pitch, previous = vocab.values[token], stream.last_pitches.get(stream.instrument)
            by_step = previous is not None and 1 <= abs(pitch - previous) <= 2
            assert (pitch - stream.key) % 12 in guide.chord_at(stream.now).tones or by_step, "as played"
        stream.feed(token)
    return checked


@pytest.mark.parametrize(
    "progression, meter, pitch_range",
    [
        ("Am F C G", (4, 4), (0, 127)),
        ("C:2 G7:2 Am:1.5 Em/B:2.5", (3, 4), (0, 127)),
        ("Dm:3 A7:3", (6, 8), (0, 127)),
        ("C G Am F", (4, 4), (52, 64)),  # a narrow range: the bass must still be found within it
    ],
)
def test_an_untrained_network_follows_the_chords_by_the_rule(progression, meter, pitch_range):
    guide = ChordGuide(parse_progression(progression), meter, CONFIG, pitch_range=pitch_range)
    pieces = sample_pieces(
        random_network(seed=3),
        CONFIG,
        num_bars=8,
        batch=4,
        seed=1,
        options=SamplingOptions(temperature=1.5),
        constraints=Constraints(time_signature=meter, min_pitch=pitch_range[0], max_pitch=pitch_range[1]),
        meter=meter,
        guides=[guide],
    )
    assert sum(_check_the_rule(piece.tokens, piece.end_step, guide) for piece in pieces) > 20


def test_generate_follows_chords_and_refuses_unknown_ones(tiny_model, tmp_path):
    out = tmp_path / "am.mid"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--model",
            str(tiny_model),
            "--chords",
            "Am Dm E7 Am",
            "--pitch-range",
            "52-64",
            "--bars",
            "8",
            "--seed",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    score = read_score(out)
    guide = ChordGuide(parse_progression("Am Dm E7 Am"), (4, 4), CONFIG)
    notes = [(n.start, n.end, n.pitch) for t in score.tracks if not t.is_drum for n in t.notes]
    assert notes and [(ts.numerator, ts.denominator) for ts in score.time_signatures] == [(4, 4)]
    assert all(52 <= pitch <= 64 for _, _, pitch in notes), "the bass is found within the range asked for"
    for beat in range(32):
        sounding = {pitch % 12 for start, stop, pitch in notes if start <= beat < stop}
        assert sounding <= guide.chord_at(beat * SPQ).tones, beat
    bad = CliRunner().invoke(
        main, ["generate", "--model", str(tiny_model), "--chords", "Am Hm", "--out", str(tmp_path / "x.mid")]
    )
    assert bad.exit_code == 2 and "'Hm' is not a chord symbol" in bad.output and not (tmp_path / "x.mid").exists()


def _tune(*notes, meter=(4, 4)) -> Melody:
    """A melody of (start, end, pitch) in beats, played by a violin."""
    grid = tuple((round(start * SPQ), round(end * SPQ), pitch, 80) for start, end, pitch in notes)
    bars = -(-grid[-1][1] // bar_steps(meter, CONFIG))
    return Melody(40, grid, meter, 100.0, bars, Track(40))


# a tune in C: C D E F G A B C, then its close
OPENING = [(beat, beat + 1, pitch) for beat, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]


@pytest.mark.parametrize(
    "close, degrees, tones",
    [
        ([(8, 10, 74), (10, 12, 72)], ["V7", "I"], [{7, 11, 2, 5}, {0, 4, 7}]),  # D over the dominant, then C
        ([(8, 11, 65), (11, 12, 64)], ["V7", "I"], [{7, 11, 2, 5}, {0, 4, 7}]),  # F, the dominant's seventh, then E
        ([(8, 10, 69), (10, 12, 72)], ["IV", "I"], [{5, 9, 0}, {0, 4, 7}]),  # A over the subdominant: a plagal close
    ],
)
def test_a_harmonization_closes_from_the_dominant_or_subdominant_on_the_beat_before_the_last_note(
    close, degrees, tones
):
    guide = cadence_guide(_tune(*OPENING, *close), CONFIG, (0, 127))
    last_onset = close[-1][0] * SPQ
    assert [chord.symbol for chord in guide.chords] == degrees and [set(c.tones) for c in guide.chords] == tones
    assert guide.start == last_onset - SPQ and guide.starts_chord(last_onset) and guide.chord_at(last_onset).bass == 0
    assert not any(guide.is_strong(step) for step in range(guide.start)), "the music before the close is free"


def test_a_minor_key_closes_on_a_major_chord_unless_the_melody_ends_on_its_minor_third():
    a_minor = [(beat, beat + 1, pitch) for beat, pitch in enumerate([69, 71, 72, 74, 76, 77, 68, 69])]
    picardy = cadence_guide(_tune(*a_minor, (8, 10, 71), (10, 12, 69)), CONFIG, (0, 127))
    assert [set(c.tones) for c in picardy.chords] == [{4, 8, 11, 2}, {9, 1, 4}], "E7 (G sharp raised), then A major"
    minor = cadence_guide(_tune(*a_minor, (8, 10, 71), (10, 12, 72)), CONFIG, (0, 127))
    assert set(minor.chords[-1].tones) == {9, 0, 4}


@pytest.mark.parametrize(
    "melody",
    [
        _tune(*OPENING, (8, 10, 74), (10, 12, 74)),  # ends on D, the second degree: a half close
        _tune(*OPENING, (8, 10, 64), (10, 12, 60)),  # E, the third, before the last note: on neither chord
        _tune(*OPENING[:6], (8, 12, 72)),  # a rest on the beat before the last note
    ],
)
def test_a_melody_that_does_not_end_on_a_full_close_is_left_to_the_model(melody):
    assert cadence_guide(melody, CONFIG, (0, 127)) is None


def _harmonized(melody: Melody, guide, seed: int, constraints: Constraints):
    """Four harmonizations of ``melody`` by a random network sampled hot, under ``guide``."""
    return sample_pieces(
        random_network(seed=seed),
        CONFIG,
        num_bars=melody.bars,
        batch=4,
        seed=seed,
        options=SamplingOptions(temperature=1.5),
        constraints=constraints,
        guides=[MelodyGuide(melody, CONFIG), guide],
    )


@pytest.mark.parametrize("seed", range(3))
def test_an_untrained_network_harmonizing_ends_on_the_close(seed):
    """Whatever the network prefers: the dominant seventh's tones on the beat before the last note, its root lowest;
    then the tonic chord, root lowest, as the last onset, its new notes held to the melody's end."""
    melody = _tune(*OPENING, (8, 11, 65), (11, 12, 64))
    guide = cadence_guide(melody, CONFIG, (0, 127))
    pieces = _harmonized(melody, guide, seed, Constraints(tempo=100, time_signature=(4, 4)))
    for piece in pieces:
        assert _check_the_rule(piece.tokens, piece.end_step, guide) >= 2
        notes = [n for t in decode(piece.tokens, CONFIG).tracks if not t.is_drum for n in t.notes]
        assert max(n.start for n in notes) == 11, "nothing starts after the last chord"
        assert all(n.end >= 12 for n in notes if n.start == 11), "the last chord is held with the melody"
        assert min(n.pitch for n in notes if n.start <= 10 < n.end) % 12 == 7
        assert min(n.pitch for n in notes if n.start <= 11 < n.end) % 12 == 0


def test_harmonize_closes_unless_told_not_to_or_given_chords(tiny_model, tmp_path):
    tune = Track(0, name="Tune", notes=tuple(Note(*note, 90) for note in [*OPENING, (8, 11, 65), (11, 12, 64)]))
    song = write_score(Score((tune,), time_signatures=(TimeSignature(0, 4, 4),)), tmp_path / "tune.mid")
    lowest = {}
    for name, options in {"close": [], "free": ["--no-cadence"], "chords": ["--chords", "G"]}.items():
        out = tmp_path / f"{name}.mid"
        args = ["harmonize", str(song), "--model", str(tiny_model), "--seed", "3", "--out", str(out), *options]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        notes = [n for t in read_score(out).tracks if not t.is_drum for n in t.notes]
        lowest[name] = min(n.pitch for n in notes if n.start <= 11 < n.end) % 12
    assert lowest["close"] == 0, "the tonic, C, in the bass of the last chord"
    assert lowest["chords"] in {7, 11, 2}, "the chords given rule instead: G's tones"
    assert json.loads((tmp_path / "free.json").read_text())["request"]["cadence"] is False


def _stream_before_the_last_note_of(part: int, score: Score, last_onset: int) -> StreamState:
    """The stream of ``score``'s encoding, fed up to where ``part`` is to choose its pitch at the last onset."""
    stream, vocab = StreamState(CONFIG), vocabulary(CONFIG)
    for token in encode(score, CONFIG):
        if vocab.kinds[token] == PITCH and stream.now == last_onset and stream.instrument == part:
            return stream
        stream.feed(token)
    raise AssertionError("the part plays no note at the last onset")


@pytest.mark.parametrize("inner_parts, forced", [((41,), True), ((41, 42), False)])
def test_the_last_part_above_the_bass_to_sound_in_the_closing_chord_takes_its_third(inner_parts, forced):
    """A close is a triad, not a bare fifth: with the melody on the tonic, the last part to choose a note above the bass
    may only take the third; while another part is still to come, any tone of the chord."""
    melody = _tune(*OPENING, (8, 10, 74), (10, 12, 72))
    guide = cadence_guide(melody, CONFIG, (0, 127))
    tune = Track(40, notes=tuple(Note(start / SPQ, end / SPQ, pitch, 80) for start, end, pitch, _ in melody.notes))
    inner = [Track(part, notes=(Note(0, 10, 55 + part - 41, 80), Note(10, 12, 55, 80))) for part in inner_parts]
    bass = Track(43, notes=(Note(0, 10, 43, 80), Note(10, 12, 48, 80)))
    stream = _stream_before_the_last_note_of(41, Score((tune, *inner, bass)), 10 * SPQ)
    allowed = guide.restrict(stream, np.ones(len(vocabulary(CONFIG)), bool))[vocabulary(CONFIG).block(PITCH)]
    pitch_classes = {(pitch - stream.key) % 12 for pitch in np.flatnonzero(allowed) + CONFIG.min_pitch}  # as played
    assert pitch_classes == ({4} if forced else {0, 4, 7})


@pytest.mark.parametrize("seed", range(4))
def test_the_bass_of_each_chord_is_found_within_the_parts_ranges(seed):
    """A double bass kept to C2-B2 under a violin melody: on G's first beat it may not take a note with no G left under
    it in its range (D2 would leave only G1, which it cannot play), which would stall the piece."""
    melody = _tune(*OPENING)
    guide = ChordGuide(parse_progression("G C"), (4, 4), CONFIG, 40, instrument_ranges=((43, 36, 47),))
    ranges = Constraints(programs=frozenset({40, 43}), instrument_ranges=((43, 36, 47),))
    pieces = _harmonized(melody, guide, seed, ranges)
    for piece in pieces:
        bass = [n for t in decode(piece.tokens, CONFIG).tracks if t.program == 43 for n in t.notes]
        assert all(36 <= n.pitch <= 47 for n in bass)
        lowest = {start: min((n.pitch for n in bass if n.start == start), default=None) for start in (0, 4)}
        assert lowest[0] in (43, None) and lowest[4] in (36, None), "each chord's root, in the bass's range"


def test_the_piece_declares_parts_that_can_reach_every_chords_bass_before_it_opens():
    """A violin kept to 60-64 has no A to put under Am: the piece may not open with it alone, and stall there."""
    ranges = ((40, 60, 84), (43, 36, 60))
    guide = ChordGuide(parse_progression("Am Dm"), (4, 4), CONFIG, pitch_range=(52, 64), instrument_ranges=ranges)
    ids, stream = vocabulary(CONFIG).ids, StreamState(CONFIG)
    for token in [1, ids["Bar", None], ids["TimeSig", (4, 4)], ids["Key", 0], ids["Part", 40]]:
        stream.feed(token)
    mask = guide.restrict(stream, np.ones(len(vocabulary(CONFIG)), bool))
    assert not mask[ids["Pos", 0]] and not mask[ids["Part", DRUMS]] and mask[ids["Part", 43]]
    stream.feed(ids["Part", 43])  # a cello reaches A (57); the violin D (62)
    assert guide.restrict(stream, np.ones(len(vocabulary(CONFIG)), bool))[ids["Pos", 0]]


def test_a_progression_is_written_in_c_major_or_a_minor_and_its_chords_move_with_it():
    guide = ChordGuide(parse_progression("D G A7 D"), (4, 4), CONFIG)
    ids, stream = vocabulary(CONFIG).ids, StreamState(CONFIG)
    for token in [1, ids["Bar", None], ids["TimeSig", (4, 4)]]:
        stream.feed(token)
    keys = guide.restrict(stream, np.ones(len(vocabulary(CONFIG)), bool))[vocabulary(CONFIG).block("Key")]
    assert np.flatnonzero(keys).tolist() == [3], "D major: Key_-2, the fourth of -5..6"
