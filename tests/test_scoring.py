import math

import numpy as np

from composer.config import EncodingConfig
from composer.events import PITCH, encode, vocabulary
from composer.model.scoring import event_nlls, sequence_metrics
from composer.score import Note, Score, TimeSignature, Track

from fixed_networks import fixed_logits_model, uniform_model


def test_a_uniform_model_scores_log_vocabulary_size_per_event():
    sequences = [np.array([1, 5, 6, 7, 2]), np.array([1, 9, 2]), np.array([1, 3, 3, 3, 3, 3, 3, 2])]
    metrics = sequence_metrics(uniform_model(10), sequences, batch_size=2)
    assert metrics["events"] == 4 + 2 + 7
    assert math.isclose(metrics["nll_per_event"], math.log(10), rel_tol=1e-6)
    assert math.isclose(metrics["perplexity"], 10, rel_tol=1e-5)
    assert metrics["accuracy"] == 0.0  # the tie goes to event 0 (Pad), which never occurs


def test_nll_is_split_by_the_kind_of_event_predicted_and_given_per_note():
    config = EncodingConfig()
    kinds = np.array(vocabulary(config).kinds)
    bias = np.random.default_rng(0).normal(0, 2, len(kinds))
    model = fixed_logits_model(bias, context=2)  # a network that reads the context: scored with it
    pieces = [Score(tracks=(Track(0, notes=tuple(Note(i, i + 1, 60 + i, 80) for i in range(n))),)) for n in (3, 2)]
    sequences = [np.array(encode(piece, config)) for piece in pieces]
    metrics = sequence_metrics(model, sequences, batch_size=2, config=config)

    targets = np.concatenate([sequence[1:] for sequence in sequences])
    nll = np.log(np.exp(bias).sum()) - bias[targets]  # -log softmax(bias)[target]
    assert set(metrics["nll_by_kind"]) == set(kinds[targets])
    for kind, part in metrics["nll_by_kind"].items():
        assert part["events"] == np.sum(kinds[targets] == kind)
        assert math.isclose(part["nll"], nll[kinds[targets] == kind].mean(), rel_tol=1e-5)
        assert math.isclose(part["share"], nll[kinds[targets] == kind].sum() / nll.sum(), rel_tol=1e-5)
    shares = [part["share"] for part in metrics["nll_by_kind"].values()]
    assert shares == sorted(shares, reverse=True) and math.isclose(sum(shares), 1)
    assert metrics["notes"] == 5 and metrics["nll_by_kind"][PITCH]["events"] == 5
    assert math.isclose(metrics["nll_per_note"], nll.sum() / 5, rel_tol=1e-5)
    # without the encoding, kinds are unknown
    assert "nll_by_kind" not in sequence_metrics(fixed_logits_model(bias), sequences)


def test_event_nlls_keep_the_order_and_length_of_each_sequence():
    sequences = [np.array([1, 4, 4, 4, 4, 2]), np.array([1, 2]), np.array([1, 5, 2])]
    scored = event_nlls(uniform_model(6), sequences, batch_size=2)
    assert [len(nll) for nll, _ in scored] == [5, 1, 2]
    assert all(np.allclose(nll, math.log(6)) for nll, _ in scored)


def test_nll_per_note_counts_the_notes_of_repeated_bars():
    config = EncodingConfig()
    bias = np.random.default_rng(0).normal(0, 2, len(vocabulary(config)))
    bars = [(67,), (60, 64), (60, 64), (60, 64)]  # the last two bars are Repeat events
    piece = Score(
        tracks=(
            Track(
                0,
                notes=tuple(
                    Note(4 * bar + 2 * i, 4 * bar + 2 * i + 2, pitch, 80)
                    for bar, pitches in enumerate(bars)
                    for i, pitch in enumerate(pitches)
                ),
            ),
        ),
        time_signatures=(TimeSignature(0, 4, 4),),
    )
    sequence = np.array(encode(piece, config))
    metrics = sequence_metrics(fixed_logits_model(bias), [sequence], config=config)
    assert metrics["nll_by_kind"][PITCH]["events"] == 3 and metrics["notes"] == 7
    assert math.isclose(metrics["nll_per_note"], metrics["nll_per_event"] * metrics["events"] / 7, rel_tol=1e-6)
