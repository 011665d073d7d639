import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import DRUMS, PITCH, StreamState, decode, vocabulary
from composer.generation.chords import ChordGuide, chord, parse_progression
from composer.generation.sample import Constraints, SamplingOptions, sample_pieces
from composer.midi_io import read_score

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
        if vocab.kinds[token] == PITCH and stream.instrument != DRUMS and not guide.is_strong(stream.now):
            pitch, previous = vocab.values[token], stream.last_pitches.get(stream.instrument)
            by_step = previous is not None and 1 <= abs(pitch - previous) <= 2
            assert pitch % 12 in guide.chord_at(stream.now).tones or by_step
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
