"""Networks whose every prediction is known: scoring tests compare against exact numbers."""

import numpy as np

from composer.config import ModelConfig
from composer.model.network import build_model


def fixed_logits_model(logits, context=0):
    """The same logits after every history: event i has probability softmax(logits)[i]."""
    model = build_model(ModelConfig(4, 8, 1, context=context), len(logits))
    dense = model.get_layer("logits")
    dense.set_weights([np.zeros_like(dense.get_weights()[0]), np.asarray(logits)])
    return model


def uniform_model(vocab_size):
    """Logits all zero: every event has probability 1/vocab_size."""
    return fixed_logits_model(np.zeros(vocab_size))
