"""Untrained NumPy networks: the sampler must keep its promises whatever the network prefers."""

import numpy as np

from composer.config import EncodingConfig
from composer.events import vocabulary
from composer.generation.inference import LSTMLayer, NumpyLSTM


def random_network(vocab_size=len(vocabulary(EncodingConfig())), embedding=8, units=16, layers=2, seed=0):
    rng = np.random.default_rng(seed)
    lstm, inputs = [], embedding
    for _ in range(layers):
        lstm.append(
            LSTMLayer(
                rng.normal(0, 0.5, (inputs, 4 * units)).astype(np.float32),
                rng.normal(0, 0.5, (units, 4 * units)).astype(np.float32),
                rng.normal(0, 0.1, 4 * units).astype(np.float32),
            )
        )
        inputs = units
    return NumpyLSTM(
        rng.normal(0, 1, (vocab_size, embedding)).astype(np.float32),
        lstm,
        rng.normal(0, 1, (units, vocab_size)).astype(np.float32),
        np.zeros(vocab_size, np.float32),
    )
