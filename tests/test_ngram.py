import math

import numpy as np

from composer.model import ngram
from composer.model.ngram import KneserNey, first_pieces, fit_baseline


def _markov_chain(rng, transition, length):
    states = [0]
    for _ in range(length - 1):
        states.append(int(rng.choice(len(transition), p=transition[states[-1]])))
    return states


def test_recovers_the_entropy_rate_of_a_markov_chain():
    rng = np.random.default_rng(0)
    transition = rng.dirichlet(np.full(8, 0.5), size=8)
    train = [_markov_chain(rng, transition, 2000) for _ in range(20)]
    test = [_markov_chain(rng, transition, 2000) for _ in range(5)]
    stationary = np.linalg.matrix_power(transition, 200)[0]
    entropy_rate = -sum(
        stationary[i] * transition[i, j] * math.log(transition[i, j]) for i in range(8) for j in range(8)
    )
    model = KneserNey(vocab_size=8, max_order=4).fit(train)
    order, nll = model.best_order(test)
    assert abs(nll - entropy_rate) < 0.02 * entropy_rate
    assert order >= 2, "a first-order chain needs one event of history"
    assert model.nll_per_event(test, order=1) > entropy_rate + 0.1, "unigrams miss the structure"


def test_probabilities_sum_to_one_over_the_vocabulary():
    model = KneserNey(vocab_size=5, max_order=3).fit([[1, 3, 4, 3, 4, 2], [1, 4, 4, 3, 2]])
    for history in ([1], [1, 3], [3, 4], [0, 0]):
        total = sum(math.exp(model.log_probs(history + [event])[-1]) for event in range(5))
        assert math.isclose(total, 1.0, rel_tol=1e-9)


def test_unseen_events_keep_a_nonzero_probability():
    model = KneserNey(vocab_size=10, max_order=3).fit([[1, 2, 3, 2]])
    assert all(math.isfinite(lp) for lp in model.log_probs([1, 9, 8, 7]))


def test_first_pieces_stops_reading_once_it_has_enough_events():
    def pieces():
        yield from ([1, 2, 3], [4, 5], [6, 7, 8])
        raise AssertionError("read past the limit")

    assert first_pieces(pieces(), 4) == [[1, 2, 3], [4, 5]]
    assert first_pieces([[1, 2]], 10) == [[1, 2]]


def test_the_baseline_of_a_large_corpus_is_fitted_on_its_first_pieces(monkeypatch):
    rng = np.random.default_rng(1)
    chains = [_markov_chain(rng, rng.dirichlet(np.full(6, 0.3), size=6), 300) for _ in range(8)]
    monkeypatch.setattr(ngram, "BASELINE_EVENTS", 1000)  # of training events; a tenth for validation
    _, capped = fit_baseline(chains[:6], chains[6:], vocab_size=6)
    direct = KneserNey(vocab_size=6, max_order=8).fit(chains[:4])  # 4 x 300 crosses 1000
    assert capped["order"] == direct.best_order(chains[6:7])[0], "the order is chosen on 300 events (over 100)"
    assert capped["nll_per_event"] == direct.nll_per_event(chains[6:], capped["order"]), "scored on all of them"
    assert (capped["fitted_pieces"], capped["fitted_events"]) == (4, 1200)
    monkeypatch.setattr(ngram, "BASELINE_EVENTS", 10_000)
    assert fit_baseline(chains[:6], chains[6:], vocab_size=6)[1]["fitted_pieces"] == 6
