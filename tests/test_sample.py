import numpy as np
import pytest

from composer.config import EncodingConfig
from composer.errors import ComposerError
from composer.events import DRUMS, START, decode, vocabulary
from composer.inference import LSTMLayer, NumpyLSTM
from composer.sample import Constraints, Grammar, SamplingOptions, _Voice, choose, generate

CONFIG = EncodingConfig()
VOCAB = vocabulary(CONFIG)
IDS = VOCAB.ids


def random_network(vocab_size=len(VOCAB), embedding=8, units=16, layers=2, seed=0):
    rng = np.random.default_rng(seed)
    lstm, inputs = [], embedding
    for _ in range(layers):
        lstm.append(LSTMLayer(rng.normal(0, 0.5, (inputs, 4 * units)).astype(np.float32),
                              rng.normal(0, 0.5, (units, 4 * units)).astype(np.float32),
                              rng.normal(0, 0.1, 4 * units).astype(np.float32)))  # fmt: skip
        inputs = units
    return NumpyLSTM(rng.normal(0, 1, (vocab_size, embedding)).astype(np.float32), lstm,
                     rng.normal(0, 1, (units, vocab_size)).astype(np.float32), np.zeros(vocab_size, np.float32))  # fmt: skip


def test_temperature_zero_and_top_k_one_take_the_likeliest_allowed_event():
    logits = np.array([[0.0, 5.0, 1.0, 9.0]])
    mask = np.array([[True, True, True, False]])
    rng = np.random.default_rng(0)
    assert choose(logits, mask, SamplingOptions(temperature=0), rng).tolist() == [1]
    assert choose(logits, mask, SamplingOptions(top_k=1), rng).tolist() == [1]


def test_top_k_and_top_p_limit_the_candidates():
    logits = np.log(np.array([[0.4, 0.3, 0.2, 0.1]] * 4000))
    mask = np.ones_like(logits, bool)
    rng = np.random.default_rng(0)
    assert set(choose(logits, mask, SamplingOptions(top_k=2), rng).tolist()) == {0, 1}
    assert set(choose(logits, mask, SamplingOptions(top_p=0.65), rng).tolist()) == {0, 1}
    assert set(choose(logits, mask, SamplingOptions(top_p=0.75), rng).tolist()) == {0, 1, 2}
    counts = np.bincount(choose(logits, mask, SamplingOptions(), rng), minlength=4) / 4000
    assert np.allclose(counts, [0.4, 0.3, 0.2, 0.1], atol=0.03), "plain sampling follows the model"
    hot = np.bincount(choose(logits, mask, SamplingOptions(temperature=3), rng), minlength=4) / 4000
    assert hot[3] > counts[3] + 0.05, "a high temperature flattens the distribution"


def test_no_allowed_event_is_a_clear_error():
    with pytest.raises(ComposerError, match="no valid next event"):
        choose(np.zeros((1, 3)), np.zeros((1, 3), bool), SamplingOptions(), np.random.default_rng(0))
    with pytest.raises(ComposerError, match="no pitch"):
        Grammar(CONFIG, Constraints(pitch_classes=frozenset({1}), min_pitch=60, max_pitch=60))


def test_grammar_asks_for_velocity_then_duration_after_a_pitch():
    grammar = Grammar(CONFIG, Constraints())
    voice = _Voice()
    assert not grammar.allowed(voice)[IDS["Pitch", 60]], "no note before an instrument is chosen"
    grammar.observe(voice, IDS["Program", 40])
    grammar.observe(voice, IDS["Pitch", 60])
    assert {VOCAB.kinds[t] for t in np.flatnonzero(grammar.allowed(voice))} == {"Velocity"}
    grammar.observe(voice, IDS["Velocity", 80])
    assert {VOCAB.kinds[t] for t in np.flatnonzero(grammar.allowed(voice))} == {"Duration"}
    grammar.observe(voice, IDS["Duration", 12])
    assert grammar.allowed(voice)[IDS["Shift", 1]] and not grammar.allowed(voice)[START]


@pytest.mark.parametrize("seed", range(3))
def test_generated_music_obeys_every_constraint(seed):
    constraints = Constraints(pitch_classes=frozenset({0, 2, 4, 5, 7, 9, 11}), min_pitch=48, max_pitch=72,
                              programs=frozenset({40, 41, DRUMS}), max_polyphony=2)  # fmt: skip
    sequences = generate(random_network(seed=seed), CONFIG, num_events=400, batch=4, constraints=constraints,
                         options=SamplingOptions(temperature=1.5), seed=seed)  # fmt: skip
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
    first = generate(network, CONFIG, num_events=100, batch=3, seed=7)
    assert first == generate(network, CONFIG, num_events=100, batch=3, seed=7)
    assert first != generate(network, CONFIG, num_events=100, batch=3, seed=8)
    assert first[0].tokens != first[1].tokens


def test_primer_is_continued():
    primer = [START, IDS["Program", 40], IDS["Pitch", 60], IDS["Velocity", 80], IDS["Duration", 12]]
    sequences = generate(random_network(), CONFIG, num_events=50, primer=primer, seed=1)
    assert sequences[0].tokens[:5] == primer and len(sequences[0].tokens) == 55


def test_blocked_events_never_appear():
    blocked = frozenset(t for t, k in enumerate(VOCAB.kinds) if k in ("Tempo", "TimeSig"))
    sequences = generate(random_network(), CONFIG, num_events=500, batch=2, seed=3,
                         constraints=Constraints(blocked_events=blocked), options=SamplingOptions(temperature=2))  # fmt: skip
    assert not blocked & {t for piece in sequences for t in piece.tokens}


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8)])
def test_bars_mode_ends_exactly_on_the_requested_bar_line(meter):
    primer = [START, IDS["TimeSig", meter]]
    bar_steps = meter[0] * 4 * CONFIG.steps_per_quarter // meter[1]
    blocked = frozenset(t for t, k in enumerate(VOCAB.kinds) if k == "TimeSig")
    pieces = generate(random_network(), CONFIG, num_bars=4, primer=primer, batch=3, seed=2,
                      constraints=Constraints(blocked_events=blocked))  # fmt: skip
    for piece in pieces:
        assert piece.end_step == 4 * bar_steps
        shifts = sum(VOCAB.values[t] for t in piece.tokens if VOCAB.kinds[t] == "Shift")
        assert shifts >= 4 * bar_steps > shifts - VOCAB.values[piece.tokens[-1]], "stops at the shift crossing it"


def test_a_repeated_meter_does_not_restart_the_bar_as_decode_ignores_it_too():
    grammar = Grammar(CONFIG, Constraints())
    voice = _Voice()
    for token in [IDS["TimeSig", (3, 4)], IDS["Shift", 12], IDS["TimeSig", (3, 4)], IDS["Shift", 24]]:
        grammar.observe(voice, token)
    assert (voice.bars, voice.bar_start) == (1, 36)
    grammar.observe(voice, IDS["Shift", 6])
    grammar.observe(voice, IDS["TimeSig", (2, 4)])  # a real change starts a new bar where it happens
    assert (voice.bar_start, voice.bar_steps) == (42, 24)


def _runs(tokens, n):
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def test_no_repeat_ngram_keeps_every_run_of_n_events_unique():
    greedy = SamplingOptions(temperature=0)
    looping = generate(random_network(seed=4), CONFIG, num_events=400, options=greedy)[0].tokens
    assert len(set(_runs(looping, 8))) < len(_runs(looping, 8)), "greedy sampling of this network repeats itself"
    options = SamplingOptions(temperature=0, no_repeat_ngram=8)
    for piece in generate(random_network(seed=4), CONFIG, num_events=400, batch=2, options=options):
        assert len(set(_runs(piece.tokens, 8))) == len(_runs(piece.tokens, 8))


def test_repetition_penalty_makes_recent_pitches_rarer():
    def repeated_pitch_rate(penalty):
        options = SamplingOptions(temperature=0.7, repetition_penalty=penalty)
        tokens = generate(random_network(seed=5), CONFIG, num_events=600, batch=4, seed=1, options=options)
        pitches = [[i for i, t in enumerate(p.tokens) if VOCAB.kinds[t] == "Pitch"] for p in tokens]
        repeats = [p.tokens[i] in p.tokens[max(0, i - 64) : i] for p, idx in zip(tokens, pitches) for i in idx]
        return sum(repeats) / len(repeats)

    assert repeated_pitch_rate(3.0) < 0.8 * repeated_pitch_rate(1.0)


@pytest.mark.parametrize("options", [dict(repetition_penalty=0.5), dict(no_repeat_ngram=1), dict(no_repeat_ngram=-2)])
def test_bad_anti_repetition_settings_are_refused(options):
    with pytest.raises(ComposerError, match="--repetition-penalty"):
        SamplingOptions(**options)


def test_a_very_long_primer_is_kept_whole_and_the_network_reads_its_last_events():
    note = [IDS["Pitch", 60], IDS["Velocity", 80], IDS["Duration", 12], IDS["Shift", 12]]
    primer = [START, IDS["Program", 0]] + note * 20_000
    network = random_network()
    piece = generate(network, CONFIG, num_events=20, primer=primer, seed=1)[0]
    assert piece.tokens[: len(primer)] == primer and len(piece.tokens) == len(primer) + 20
    tail = generate(network, CONFIG, num_events=20, primer=[START, IDS["Program", 0]] + note * 300, seed=1)[0]
    assert piece.tokens[len(primer) :] == tail.tokens[-20:], "only the last 1,024 events reach the network"


def test_a_model_without_meter_events_counts_bars_in_the_meter_it_is_given():
    config = EncodingConfig(use_time_signatures=False)
    pieces = generate(random_network(vocab_size=len(vocabulary(config))), config, num_bars=2, batch=2, seed=1,
                      meter=(3, 4))  # fmt: skip
    assert [piece.end_step for piece in pieces] == [2 * 3 * config.steps_per_quarter] * 2
