import numpy as np
import pytest

from composer.evaluation.copycheck import CorpusIndex, copy_report, transposition_invariant, window_hashes

IS_PITCH = np.zeros(600, dtype=bool)
IS_PITCH[300:428] = True  # ids 300.. are pitches 0..127 in this toy vocabulary


def _naive_longest(tokens, corpus):
    runs = {tuple(s[i : i + n]) for s in corpus for n in range(1, len(s) + 1) for i in range(len(s) - n + 1)}
    return max(
        (n for n in range(1, len(tokens) + 1) for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n]) in runs),
        default=0,
    )


def test_window_hashes_match_exactly_when_the_runs_match():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 6, 400)
    hashes = window_hashes(tokens, 5)
    runs = [tuple(tokens[i : i + 5]) for i in range(len(tokens) - 4)]
    assert len(hashes) == len(runs)
    assert len(set(hashes.tolist())) == len(set(runs))
    assert all((hashes[i] == hashes[j]) == (runs[i] == runs[j]) for i in range(0, 396, 7) for j in range(0, 396, 5))
    assert len(window_hashes(tokens[:3], 5)) == 0


@pytest.mark.parametrize("seed", range(5))
def test_longest_shared_run_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    corpus = [rng.integers(0, 4, int(rng.integers(5, 40))) for _ in range(4)]
    tokens = rng.integers(0, 4, 30)
    assert CorpusIndex(corpus).longest_shared_run(tokens) == _naive_longest(
        tokens.tolist(), [c.tolist() for c in corpus]
    )


def test_a_copied_phrase_in_another_key_is_found_only_transposition_invariantly():
    rng = np.random.default_rng(3)
    phrase = np.array([x for p in rng.integers(360, 380, 40) for x in (p, 500, 510, 1)])  # pitch, velocity, ...
    training = [np.concatenate([rng.integers(0, 290, 100), phrase, rng.integers(0, 290, 50)])]
    moved = np.where(IS_PITCH[phrase], phrase + 5, phrase)
    generated = np.concatenate([rng.integers(0, 290, 20), moved])
    index = CorpusIndex(training)
    invariant = CorpusIndex([transposition_invariant(s, IS_PITCH[s]) for s in training])
    report = copy_report(index, invariant, generated, IS_PITCH[generated])
    assert report["longest_shared_run"] < 16  # a few notes can coincide by chance
    assert report["longest_shared_run_transposed"] >= len(phrase) - 1
    assert report["ngrams_found_transposed"]["16"] > 0.8 and report["ngrams_found"]["16"] == 0


def test_a_corpus_of_a_thousand_pieces_finds_an_exact_copy():
    rng = np.random.default_rng(1)
    corpus = [rng.integers(0, 540, 1000) for _ in range(1000)]
    index = CorpusIndex(corpus)
    assert index.longest_shared_run(corpus[7][100:400]) == 300
    assert index.found(corpus[999][:50], 32).all() and not index.found(rng.integers(0, 540, 50), 8).any()
