import numpy as np

from composer.config import CONTEXT_LAYOUT, ModelConfig
from composer.context import context_size
from composer.model import build_model

VOCAB_SIZE = 40


def _inputs(rng, batch, length):
    events = rng.integers(0, VOCAB_SIZE, (batch, length)).astype("int32")
    return [events, rng.random((batch, length, context_size(CONTEXT_LAYOUT))).astype("float32")]


def _logits(model, inputs):
    return np.asarray(model(inputs, training=False))


def test_a_stateful_network_starts_each_batch_from_the_state_the_last_one_ended_in():
    config = ModelConfig(embedding_dim=8, units=16)
    published = build_model(config, VOCAB_SIZE)
    carrying = build_model(config, VOCAB_SIZE, stateful_batch=2)
    carrying.set_weights(published.get_weights())  # the same weights: what training publishes
    inputs = _inputs(np.random.default_rng(0), 2, 24)
    first, second = ([part[:, span] for part in inputs] for span in (slice(0, 12), slice(12, 24)))

    _logits(carrying, first)
    np.testing.assert_allclose(_logits(carrying, second), _logits(published, inputs)[:, 12:], atol=1e-5)
    for layer in carrying.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
    np.testing.assert_allclose(_logits(carrying, second), _logits(published, second), atol=1e-5)
    assert not np.allclose(_logits(published, second), _logits(published, inputs)[:, 12:], atol=1e-3), \
        "the first half matters, so the test can tell a carried state from a fresh one"
