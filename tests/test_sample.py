import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import DRUMS, END, START, StreamState, decode, encode, follow, token_names, vocabulary
from composer.generation.sample import Constraints, Grammar, SamplingOptions, choose, sample_pieces
from composer.scales import scale_pitch_classes
from composer.score import Note, Score, TimeSignature, Track

from random_networks import random_network

CONFIG = EncodingConfig()
VOCAB = vocabulary(CONFIG)
IDS = VOCAB.ids
OPENING = [
    START,
    IDS["Bar", None],
    IDS["TimeSig", (4, 4)],
    IDS["Key", 0],
    IDS["Part", 0],
    IDS["Pos", 0],
    IDS["Tempo", 120],
    IDS["Program", 0],
    IDS["Velocity", 80],
]


def bar_hungry(network, config=CONFIG):
    """A random network that starts new bars often, so that bar counting is tested in a few hundred events."""
    network.dense_bias[vocabulary(config).ids["Bar", None]] = 6.0
    return network


NO_PITCHES = np.zeros(4, bool)


def test_temperature_zero_and_top_k_one_take_the_likeliest_allowed_event():
    logits = np.array([[0.0, 5.0, 1.0, 9.0]])
    mask = np.array([[True, True, True, False]])
    rng = np.random.default_rng(0)
    assert choose(logits, mask, SamplingOptions(temperature=0), rng, NO_PITCHES).tolist() == [1]
    assert choose(logits, mask, SamplingOptions(top_k=1), rng, NO_PITCHES).tolist() == [1]


def test_top_k_and_top_p_limit_the_candidates():
    logits = np.log(np.array([[0.4, 0.3, 0.2, 0.1]] * 4000))
    mask = np.ones_like(logits, bool)
    rng = np.random.default_rng(0)
    assert set(choose(logits, mask, SamplingOptions(top_k=2), rng, NO_PITCHES).tolist()) == {0, 1}
    assert set(choose(logits, mask, SamplingOptions(top_p=0.65), rng, NO_PITCHES).tolist()) == {0, 1}
    assert set(choose(logits, mask, SamplingOptions(top_p=0.75), rng, NO_PITCHES).tolist()) == {0, 1, 2}
    counts = np.bincount(choose(logits, mask, SamplingOptions(temperature=1), rng, NO_PITCHES), minlength=4) / 4000
    assert np.allclose(counts, [0.4, 0.3, 0.2, 0.1], atol=0.03), "sampling at temperature 1 follows the model"
    hot = np.bincount(choose(logits, mask, SamplingOptions(temperature=3), rng, NO_PITCHES), minlength=4) / 4000
    assert hot[3] > counts[3] + 0.05, "a high temperature flattens the distribution"


@pytest.mark.parametrize(
    "pitch_temperature, expected",
    [
        (None, [0.3, 0.2, 0.4, 0.1]),
        (1.0, [0.3, 0.2, 0.4, 0.1]),
        (0.5, [0.3, 0.2, 0.5 * 16 / 17, 0.5 / 17]),
        (0, [0.3, 0.2, 0.5, 0]),
    ],
)
def test_the_pitch_temperature_shapes_which_pitch_and_leaves_whether_a_note_starts(pitch_temperature, expected):
    """Events 2 and 3 start notes: together they keep their half of the probability whatever the pitch
    temperature; between them it sharpens (0.4 : 0.1 at 1 becomes 16 : 1 at 0.5) or picks the likeliest (0).
    A constant added to every logit, which the model's softmax ignores, must change nothing."""
    logits = np.log(np.array([[0.3, 0.2, 0.4, 0.1]] * 6000)) + 7.0
    is_pitch = np.array([False, False, True, True])
    options = SamplingOptions(temperature=1, pitch_temperature=pitch_temperature)
    chosen = choose(logits, np.ones_like(logits, bool), options, np.random.default_rng(0), is_pitch)
    assert np.allclose(np.bincount(chosen, minlength=4) / len(chosen), expected, atol=0.02)


def test_no_allowed_event_is_a_clear_error():
    with pytest.raises(ComposerError, match="no valid next event"):
        choose(np.zeros((1, 3)), np.zeros((1, 3), bool), SamplingOptions(), np.random.default_rng(0), NO_PITCHES)
    with pytest.raises(ComposerError, match="no pitch"):
        Grammar(CONFIG, Constraints(pitch_classes=frozenset({1}), min_pitch=60, max_pitch=60))


def _allowed_names(grammar, stream):
    return {VOCAB.name(t) for t in np.flatnonzero(grammar.allowed(stream))}


def _kinds_allowed(grammar, stream):
    return {VOCAB.kinds[t] for t in np.flatnonzero(grammar.allowed(stream))}


def test_a_piece_opens_with_a_bar_its_meter_its_instruments_and_its_tempo_before_any_note():
    grammar, stream = Grammar(CONFIG, Constraints()), StreamState(CONFIG)
    stream.feed(START)
    assert _allowed_names(grammar, stream) == {"Bar"}
    stream.feed(IDS["Bar", None])
    assert _kinds_allowed(grammar, stream) == {"TimeSig"}
    stream.feed(IDS["TimeSig", (3, 4)])
    assert _kinds_allowed(grammar, stream) == {"Key"}, "how far the piece was moved to C major or A minor"
    stream.feed(IDS["Key", -3])
    assert _kinds_allowed(grammar, stream) == {"Part"}, "at least one instrument"
    stream.feed(IDS["Part", 40])
    assert _allowed_names(grammar, stream) == {"Pos_0"} | {f"Part_{p}" for p in range(41, 128)} | {"Part_drums"}
    stream.feed(IDS["Part", 42])
    assert "Part_41" not in _allowed_names(grammar, stream), "in ascending order"
    stream.feed(IDS["Pos", 0])
    assert _kinds_allowed(grammar, stream) == {"Tempo"}
    stream.feed(IDS["Tempo", 80])
    assert _allowed_names(grammar, stream) & {"Program_40", "Program_41", "Program_42"} == {
        "Program_40",
        "Program_42",
    }, "only the instruments the piece declared"
    assert _kinds_allowed(grammar, stream) == {"Program", "Pos", "Bar"}, "an instrument before the first note"
    stream.feed(IDS["Program", 40])
    assert _kinds_allowed(grammar, stream) == {"Velocity"}, "a loudness before the first note"
    stream.feed(IDS["Velocity", 80])
    assert _kinds_allowed(grammar, stream) == {"Pitch"}
    stream.feed(IDS["Pitch", 60])
    assert _kinds_allowed(grammar, stream) == {"Duration"}
    stream.feed(IDS["Duration", 24])
    allowed = grammar.allowed(stream)
    assert allowed[IDS["Pos", 1]] and allowed[IDS["Pos", 35]] and not allowed[IDS["Pos", 36]], "within a 3/4 bar"
    assert allowed[IDS["Pitch", 59]] and not allowed[IDS["Pitch", 60]], "more notes here go below the last one"


def test_a_scale_asked_for_is_written_in_c_major_or_a_minor_and_the_pitch_limits_move_with_it():
    """--key D --scale minor: the network writes in A minor (Key_-5), and a token's pitch sounds five semitones
    higher, so the limits asked for hold for the pitches as played."""
    d_minor = scale_pitch_classes("D", "minor")
    grammar, stream = (
        Grammar(CONFIG, Constraints(pitch_classes=d_minor, min_pitch=60, max_pitch=72)),
        StreamState(CONFIG),
    )
    for token in OPENING[:3]:
        stream.feed(token)
    assert _allowed_names(grammar, stream) == {"Key_-5"}
    for token in [IDS["Key", -5], *OPENING[4:]]:
        stream.feed(token)
    played = {
        VOCAB.values[t] - stream.key for t in np.flatnonzero(grammar.allowed(stream)) if VOCAB.kinds[t] == "Pitch"
    }
    assert stream.key == -5 and played == {pitch for pitch in range(60, 73) if pitch % 12 in d_minor}


def test_the_chosen_tempo_and_meter_open_the_piece_and_stay():
    grammar = Grammar(CONFIG, Constraints(tempo=95, time_signature=(6, 8)))
    pieces = sample_pieces(
        random_network(),
        CONFIG,
        num_events=300,
        batch=2,
        seed=4,
        constraints=grammar.constraints,
        options=SamplingOptions(temperature=2),
    )
    for piece in pieces:
        names = token_names(piece.tokens, CONFIG)
        parts = [name for name in names[4:] if name.startswith("Part")]
        assert names[:3] == ["Start", "Bar", "TimeSig_6/8"] and names[3].startswith("Key_") and parts
        assert names[4 + len(parts) : 6 + len(parts)] == ["Pos_0", "Tempo_95"]
        assert sum(name.startswith(("Tempo", "TimeSig")) for name in names) == 2


def test_held_notes_are_restated_in_their_place_and_those_passed_over_end_there():
    grammar, stream = Grammar(CONFIG, Constraints()), StreamState(CONFIG)
    opening = [
        START,
        IDS["Bar", None],
        IDS["TimeSig", (4, 4)],
        IDS["Part", 40],
        IDS["Part", 42],
        IDS["Pos", 0],
        IDS["Tempo", 80],
        IDS["Program", 40],
        IDS["Velocity", 80],
        IDS["Pitch", 67],
        IDS["Duration", 24],
        IDS["Program", 42],
        IDS["Pitch", 48],
        IDS["Duration", 24],
        IDS["Pos", 12],
    ]
    for token in opening:
        stream.feed(token)
    allowed = grammar.allowed(stream)
    assert allowed[IDS["Program", 40]] and allowed[IDS["Pitch", 68]], "restate the violin's note, or play above it"
    assert not allowed[IDS["Bar", None]] and not allowed[IDS["Pos", 13]], "an onset needs a note"
    stream.feed(IDS["Program", 40])
    assert {"Hold_67", "Pitch_68", "Pitch_65"} <= _allowed_names(grammar, stream) and "Hold_48" not in _allowed_names(
        grammar, stream
    ), "only the violin's own held note"
    stream.feed(IDS["Hold", 67])
    assert not grammar.allowed(stream)[IDS["Pitch", 68]], "highest first"
    stream.feed(IDS["Program", 42])
    stream.feed(IDS["Pitch", 43])  # passes over the cello's held 48, which ends here
    stream.feed(IDS["Duration", 12])
    assert {"Pos", "Bar"} <= _kinds_allowed(grammar, stream) and "Hold_48" not in _allowed_names(grammar, stream)
    notes = {
        (note.pitch, note.start, note.end)
        for track in decode(
            [*opening, IDS["Program", 40], IDS["Hold", 67], IDS["Program", 42], IDS["Pitch", 43], IDS["Duration", 12]],
            CONFIG,
        ).tracks
        for note in track.notes
    }
    assert notes == {(67, 0, 2), (48, 0, 1), (43, 1, 2)}, "the restated violin note lasts, the passed-over one ends"


def _wild_pieces(constraints: Constraints, seed: int):
    """Four pieces of 400 events from a random network sampled hot: every corner of the grammar is tried."""
    return sample_pieces(
        random_network(seed=seed),
        CONFIG,
        num_events=400,
        batch=4,
        constraints=constraints,
        options=SamplingOptions(temperature=1.5),
        seed=seed,
    )


@pytest.mark.parametrize("seed", range(3))
def test_generated_music_obeys_every_constraint(seed):
    constraints = Constraints(
        pitch_classes=frozenset({0, 2, 4, 5, 7, 9, 11}),
        min_pitch=48,
        max_pitch=72,
        programs=frozenset({40, 41, DRUMS}),
        max_polyphony=2,
    )
    sequences = _wild_pieces(constraints, seed)
    for piece in sequences:
        assert len(piece.tokens) == 401
        score = decode(piece.tokens, CONFIG)
        assert score.num_notes > 0
        for track in score.tracks:
            assert track.is_drum or track.program in (40, 41)
            for note in track.notes:
                assert 48 <= note.pitch <= 72
                assert track.is_drum or note.pitch % 12 in constraints.pitch_classes
        starts = sorted((n.start, n.end) for t in score.tracks for n in t.notes)
        for start, _ in starts:
            assert sum(s <= start < e for s, e in starts) <= 2, "polyphony bound"


def test_same_seed_same_music_and_batches_differ():
    network = random_network()
    first = sample_pieces(network, CONFIG, num_events=100, batch=3, seed=7)
    assert first == sample_pieces(network, CONFIG, num_events=100, batch=3, seed=7)
    assert first != sample_pieces(network, CONFIG, num_events=100, batch=3, seed=8)
    assert first[0].tokens != first[1].tokens


def test_primer_is_continued():
    primer = OPENING + [IDS["Pitch", 60], IDS["Duration", 12]]
    sequences = sample_pieces(random_network(), CONFIG, num_events=50, primer=primer, seed=1)
    assert sequences[0].tokens[: len(primer)] == primer and len(sequences[0].tokens) == len(primer) + 50


def test_blocked_events_never_appear():
    kept = {IDS["Tempo", 100], IDS["TimeSig", (3, 4)]}  # a piece must state one of each
    blocked = frozenset(
        t
        for t, k in enumerate(VOCAB.kinds)
        if k in ("Tempo", "TimeSig", "Program") and t not in kept and t != IDS["Program", 40]
    )
    sequences = sample_pieces(
        random_network(),
        CONFIG,
        num_events=500,
        batch=2,
        seed=3,
        constraints=Constraints(blocked_events=blocked),
        options=SamplingOptions(temperature=2),
    )
    assert not blocked & {t for piece in sequences for t in piece.tokens}


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8)])
def test_bars_mode_ends_exactly_on_the_requested_bar_line(meter):
    bar_steps = meter[0] * 4 * CONFIG.steps_per_quarter // meter[1]
    pieces = sample_pieces(
        bar_hungry(random_network()), CONFIG, num_bars=4, batch=3, seed=2, constraints=Constraints(time_signature=meter)
    )
    for piece in pieces:
        assert piece.end_step == 4 * bar_steps
        assert token_names(piece.tokens, CONFIG).count("Bar") == 5 and piece.tokens[-1] == IDS["Bar", None]


def end_biased(network, bias):
    network.dense_bias[END] = bias
    return network


class ScriptedNetwork:
    """Plays ``script`` (a token sequence from Start) event by event, and offers End with the logit ``end_logits``
    gives for the onset just complete (by its beat), -30 elsewhere."""

    has_context, context_layout = False, 0

    def __init__(self, script: list[int], end_logits: dict[float, float]):
        self.script, self.vocab_size = script, len(VOCAB)
        self.end_after = {}  # script position -> End's logit there
        for position in range(2, len(script)):
            if token_names([script[position]], CONFIG)[0].startswith(("Pos", "Bar")):
                beat = follow(script[:position], CONFIG).now / CONFIG.steps_per_quarter
                self.end_after[position] = end_logits.get(beat, -30.0)

    def _logits(self, position: int, batch: int) -> np.ndarray:
        logits = np.full((batch, self.vocab_size), -30.0)
        logits[:, self.script[position]] = 30.0
        logits[:, END] = self.end_after.get(position, -30.0)
        return logits

    def run(self, events, context=None):
        return self._logits(events.shape[1], len(events))[:, None], events.shape[1]

    def step(self, events, position, context=None):
        return self._logits(position + 1, len(events)), position + 1


# C major, each chord from the bass up: I IV | V I | ii I | V(1 beat) I(1) IV(1) V(1) | I(4) | IV(4) | I(4)
CADENCES = [
    (0, 2, (48, 64, 67, 72)),
    (2, 2, (53, 65, 69, 72)),
    (4, 2, (43, 62, 67, 71)),
    (6, 2, (48, 64, 67, 72)),  # V-I on the half bar: a cadence
    (8, 2, (50, 65, 69, 74)),
    (10, 2, (48, 64, 67, 72)),  # ii-I: the bass comes by step, no cadence
    (12, 1, (43, 62, 67, 71)),
    (13, 1, (48, 64, 67, 72)),  # V-I on beat 2: a weak beat, no cadence
    (14, 1, (53, 65, 69, 72)),
    (15, 1, (43, 62, 67, 71)),
    (16, 4, (48, 64, 67, 72)),  # V-I on the downbeat: a cadence
    (20, 4, (53, 65, 69, 72)),
    (24, 4, (48, 64, 67, 72)),
]


def cadence_script() -> list[int]:
    notes = tuple(Note(beat, beat + length, pitch, 80) for beat, length, chord in CADENCES for pitch in chord)
    return encode(Score(tracks=(Track(0, notes=notes),), time_signatures=(TimeSignature(0, 4, 4),)), CONFIG)[:-1]


def last_onset(piece) -> float:
    return max(note.start for track in decode(piece.tokens, CONFIG).tracks for note in track.notes)


@pytest.mark.parametrize(
    ("end_logits", "ends_at"),
    [
        ({6: -20.0, 16: -10.0, 10: 40.0, 13: 40.0}, 16),  # End never drawn: the cadence where it was likeliest
        ({6: -10.0, 16: -20.0, 10: 40.0, 13: 40.0}, 6),
        ({6: 40.0, 16: -20.0}, 6),  # End drawn at the first cadence
    ],
)
def test_an_ending_comes_on_a_cadence_where_the_model_ends_the_piece_or_else_likeliest_would(end_logits, ends_at):
    network = ScriptedNetwork(cadence_script(), end_logits)
    for piece in sample_pieces(network, CONFIG, num_bars=1, batch=2, seed=1, ending_bars=4):
        assert piece.ended and piece.tokens[-1] == END and last_onset(piece) == ends_at
    for piece in sample_pieces(network, CONFIG, num_bars=2, batch=2, seed=1):
        assert not piece.ended and END not in piece.tokens and piece.end_step == 8 * CONFIG.steps_per_quarter


def test_an_ending_may_follow_a_length_in_events():
    network = ScriptedNetwork(cadence_script(), {6: -20.0, 16: -10.0})
    (piece,) = sample_pieces(network, CONFIG, num_events=30, seed=1, ending_bars=4)
    assert piece.ended and len(piece.tokens) > 31 and last_onset(piece) == 16


def test_a_piece_with_no_note_in_the_bars_given_stops_on_their_last_bar_line():
    network = end_biased(random_network(), 30.0)
    network.dense_bias[IDS["Bar", None]] = 30.0  # only empty bars once the first is open: no place to end
    bar_steps = 4 * CONFIG.steps_per_quarter
    four_four = Constraints(time_signature=(4, 4))
    for piece in sample_pieces(network, CONFIG, num_bars=2, batch=3, seed=4, ending_bars=3, constraints=four_four):
        assert not piece.ended and END not in piece.tokens
        assert piece.end_step == 5 * bar_steps and piece.tokens[-1] == IDS["Bar", None]


def test_a_repeated_meter_does_not_restart_the_bar_as_decode_ignores_it_too():
    stream = StreamState(CONFIG)
    for token in [
        START,
        IDS["Bar", None],
        IDS["TimeSig", (3, 4)],
        IDS["Pos", 12],
        IDS["TimeSig", (3, 4)],
        IDS["Bar", None],
    ]:
        stream.feed(token)
    assert (stream.clock.bars, stream.clock.bar_start) == (2, 36)
    stream.feed(IDS["Pos", 6])
    stream.feed(IDS["TimeSig", (2, 4)])  # a real change starts a new bar where it happens
    assert (stream.clock.bar_start, stream.clock.bar_length) == (42, 24)


def _runs(tokens, n):
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def test_no_repeat_ngram_repeats_a_run_of_n_events_only_where_the_grammar_leaves_no_other_event():
    greedy = SamplingOptions(temperature=0)
    looping = sample_pieces(random_network(seed=4), CONFIG, num_events=400, options=greedy)[0].tokens
    assert len(set(_runs(looping, 8))) < len(_runs(looping, 8)), "greedy sampling of this network repeats itself"
    options, grammar = SamplingOptions(temperature=0, no_repeat_ngram=8), Grammar(CONFIG, Constraints())
    for piece in sample_pieces(random_network(seed=4), CONFIG, num_events=400, batch=2, options=options):
        stream, followers = StreamState(CONFIG), {}
        stream.feed(START)
        for end, token in enumerate(piece.tokens[1:], start=2):
            run = tuple(piece.tokens[end - 8 : end - 1]) if end >= 8 else None
            if token in followers.get(run, ()):
                assert set(np.flatnonzero(grammar.allowed(stream))) <= followers[run], "another event was allowed"
            followers.setdefault(run, set()).add(token)
            stream.feed(token)
        assert "Repeat" not in " ".join(token_names(piece.tokens, CONFIG)), "a Repeat would loop a whole bar"


def test_repetition_penalty_makes_recent_pitches_rarer():
    def repeated_pitch_rate(penalty):
        options = SamplingOptions(temperature=0.7, repetition_penalty=penalty)
        tokens = sample_pieces(random_network(seed=5), CONFIG, num_events=600, batch=4, seed=1, options=options)
        pitches = [[i for i, t in enumerate(p.tokens) if VOCAB.kinds[t] == "Pitch"] for p in tokens]
        repeats = [p.tokens[i] in p.tokens[max(0, i - 64) : i] for p, idx in zip(tokens, pitches) for i in idx]
        return sum(repeats) / len(repeats)

    assert repeated_pitch_rate(3.0) < 0.8 * repeated_pitch_rate(1.0)


@pytest.mark.parametrize("options", [dict(repetition_penalty=0.5), dict(no_repeat_ngram=1), dict(no_repeat_ngram=-2)])
def test_bad_anti_repetition_settings_are_refused(options):
    with pytest.raises(ComposerError, match="--repetition-penalty"):
        SamplingOptions(**options)


def test_a_very_long_primer_is_kept_whole_and_the_network_reads_its_last_events():
    note = [IDS["Pitch", 60], IDS["Duration", 12], IDS["Bar", None], IDS["Pos", 0]]
    primer = OPENING + note * 20_000
    network = random_network()
    piece = sample_pieces(network, CONFIG, num_events=20, primer=primer, seed=1)[0]
    assert piece.tokens[: len(primer)] == primer and len(piece.tokens) == len(primer) + 20
    tail = sample_pieces(network, CONFIG, num_events=20, primer=OPENING + note * 300, seed=1)[0]
    assert piece.tokens[len(primer) :] == tail.tokens[-20:], "only the last 1,024 events reach the network"


def test_a_model_without_meter_events_counts_bars_in_the_meter_it_is_given():
    config = EncodingConfig(use_time_signatures=False)
    pieces = sample_pieces(
        bar_hungry(random_network(vocab_size=len(vocabulary(config))), config),
        config,
        num_bars=2,
        batch=2,
        seed=1,
        meter=(3, 4),
    )
    assert [piece.end_step for piece in pieces] == [2 * 3 * config.steps_per_quarter] * 2


def test_a_sampled_piece_plays_only_the_instruments_it_declared():
    pieces = sample_pieces(
        random_network(seed=5), CONFIG, num_events=400, batch=4, seed=2, options=SamplingOptions(temperature=2)
    )
    for piece in pieces:
        names = token_names(piece.tokens, CONFIG)
        declared = {name.removeprefix("Part_") for name in names if name.startswith("Part_")}
        played = {name.removeprefix("Program_") for name in names if name.startswith("Program_")}
        assert declared and played <= declared
        assert {track.program if not track.is_drum else "drums" for track in decode(piece.tokens, CONFIG).tracks} <= {
            int(p) if p != "drums" else p for p in declared
        }


def test_an_instrument_the_user_asks_for_may_play_after_a_primer_that_lacks_it():
    stream = StreamState(CONFIG)
    for token in OPENING[:-2]:  # the primer declared only the piano
        stream.feed(token)
    asked = Grammar(CONFIG, Constraints(programs=frozenset({0, 73})))
    assert asked.allowed(stream)[IDS["Program", 73]]
    assert not Grammar(CONFIG, Constraints()).allowed(stream)[IDS["Program", 73]]


def test_a_bar_may_repeat_an_earlier_one_of_its_meter_right_after_its_bar_line_and_is_then_complete():
    grammar, stream = Grammar(CONFIG, Constraints()), StreamState(CONFIG)
    bar = [IDS["Bar", None], IDS["Pos", 0], IDS["Pitch", 60], IDS["Duration", 48]]
    for token in OPENING + [IDS["Pitch", 67], IDS["Duration", 48]] + bar + bar:
        stream.feed(token)
    assert not {name for name in _allowed_names(grammar, stream) if name.startswith("Repeat")}, "mid-bar"
    stream.feed(IDS["Bar", None])
    assert {name for name in _allowed_names(grammar, stream) if name.startswith("Repeat")} == {
        "Repeat_1",
        "Repeat_2",
    }, "bar 4 may repeat bar 3 or 2, not bar 1, which opened the piece"
    stream.feed(IDS["Repeat", 2])
    assert _allowed_names(grammar, stream) == {"Bar"}
    assert (
        decode(
            [*OPENING, IDS["Pitch", 67], IDS["Duration", 48], *bar, *bar, IDS["Bar", None], IDS["Repeat", 2]], CONFIG
        )
        .tracks[0]
        .notes[-1]
        .start
        == 12
    )
    stream.feed(IDS["Bar", None])
    stream.feed(IDS["TimeSig", (3, 4)])
    assert not {name for name in _allowed_names(grammar, stream) if name.startswith("Repeat")}, "a bar with a meter"
    stream.feed(IDS["Pos", 0])
    stream.feed(IDS["Pitch", 60])
    stream.feed(IDS["Duration", 36])
    stream.feed(IDS["Bar", None])
    assert {name for name in _allowed_names(grammar, stream) if name.startswith("Repeat")} == set(), (
        "no earlier 3/4 bar without a meter event of its own"
    )


def test_repeats_are_left_out_when_a_held_note_could_break_a_polyphony_limit():
    stream = StreamState(CONFIG)
    bar = [IDS["Bar", None], IDS["Pos", 0], IDS["Pitch", 60], IDS["Duration", 96]]  # rings into the next bar
    for token in OPENING + [IDS["Pitch", 67], IDS["Duration", 48]] + bar + [IDS["Bar", None]]:
        stream.feed(token)
    assert "Repeat_1" in _allowed_names(Grammar(CONFIG, Constraints()), stream)
    assert "Repeat_1" not in _allowed_names(Grammar(CONFIG, Constraints(max_polyphony=4)), stream)


SETTINGS = [
    CONFIG,
    EncodingConfig(use_velocity=False, use_duration=False),
    EncodingConfig(use_duration=False),
    EncodingConfig(use_velocity=False, use_programs=False, use_tempo=False, use_time_signatures=False),
    EncodingConfig(highest_first=False),  # the order of composer 0.7's models
]
VOCABS = {config: vocabulary(config) for config in SETTINGS}


@settings(max_examples=60, deadline=None)
@given(config=st.sampled_from(SETTINGS), seed=st.integers(0, 2**32 - 1), length=st.integers(1, 400))
def test_any_stream_the_grammar_allows_decodes_to_music_that_encodes_back_to_itself(config, seed, length):
    """The sampler and decoding step through one grammar (events.StreamState): whatever the sampler may choose
    at each step, from any configuration's vocabulary, decodes to music on the grid that encoding writes back
    exactly, in the bars the sampler counted. (A stream is not itself canonical: parts declared but never
    played, say, are not music.) Its notes keep a tritone from MIDI's ends, where a one-key encoding, moving a
    piece to C, would fold a note back an octave."""
    grammar = Grammar(config, Constraints(min_pitch=6, max_pitch=121))
    stream, tokens, bar_starts = StreamState(config), [START], []
    stream.feed(START)
    rng = np.random.default_rng(seed)  # a uniform walk over the allowed events: hypothesis draws small numbers
    for _ in range(length):
        tokens.append(int(rng.choice(np.flatnonzero(grammar.allowed(stream)))))
        stream.feed(tokens[-1])
        if VOCABS[config].kinds[tokens[-1]] == "Bar":
            bar_starts.append(stream.clock.bar_start / config.steps_per_quarter)
    score = decode(tokens, config)
    assert decode(encode(score, config), config) == score
    if score.num_notes:  # the bars the sampler counted are the bars of the file
        assert score.bar_lines(bar_starts[-1])[: len(bar_starts)] == bar_starts


@pytest.mark.parametrize("seed", range(3))
def test_each_instrument_keeps_to_its_range_and_the_users_range_wins_where_they_do_not_meet(seed):
    ranges = ((40, 72, 76), (41, 60, 62), (42, 30, 40), (DRUMS, 40, 40))  # the cello's lies below the user's range
    constraints = Constraints(
        min_pitch=48, max_pitch=84, programs=frozenset({40, 41, 42, DRUMS}), instrument_ranges=ranges
    )
    pieces = _wild_pieces(constraints, seed)
    played = {}
    for piece in pieces:
        for track in decode(piece.tokens, CONFIG).tracks:
            played.setdefault("drums" if track.is_drum else track.program, set()).update(n.pitch for n in track.notes)
    assert played[40] and played[40] <= set(range(72, 77))
    assert played[41] and played[41] <= set(range(60, 63))
    assert played[42] and played[42] <= set(range(48, 85)), "no cello note in both ranges: the user's applies"
    assert len(played["drums"]) > 1, "drum sounds have no range"
