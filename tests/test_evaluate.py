import math

import numpy as np

from composer.config import ModelConfig
from composer.evaluate import event_nlls, sequence_metrics
from composer.model import build_model


def _uniform_model(vocab_size):
    """Logits all zero: every event has probability 1/vocab_size."""
    model = build_model(ModelConfig(4, 8, 1), vocab_size)
    dense = model.get_layer("logits")
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    return model


def test_a_uniform_model_scores_log_vocabulary_size_per_event():
    sequences = [np.array([1, 5, 6, 7, 2]), np.array([1, 9, 2]), np.array([1, 3, 3, 3, 3, 3, 3, 2])]
    metrics = sequence_metrics(_uniform_model(10), sequences, batch_size=2)
    assert metrics["events"] == 4 + 2 + 7
    assert math.isclose(metrics["nll_per_event"], math.log(10), rel_tol=1e-6)
    assert math.isclose(metrics["perplexity"], 10, rel_tol=1e-5)
    assert metrics["accuracy"] == 0.0  # the tie goes to event 0 (Pad), which never occurs


def test_event_nlls_keep_the_order_and_length_of_each_sequence():
    sequences = [np.array([1, 4, 4, 4, 4, 2]), np.array([1, 2]), np.array([1, 5, 2])]
    scored = event_nlls(_uniform_model(6), sequences, batch_size=2)
    assert [len(nll) for nll, _ in scored] == [5, 1, 2]
    assert all(np.allclose(nll, math.log(6)) for nll, _ in scored)
