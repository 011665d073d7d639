import numpy as np
import pytest

from composer.config import CONTEXT_LAYOUT, ModelConfig
from composer.context import context_size
from composer.model.network import build_model

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
    assert not np.allclose(_logits(published, second), _logits(published, inputs)[:, 12:], atol=1e-3), (
        "the first half matters, so the test can tell a carried state from a fresh one"
    )


TWO_REPLICAS = """
import json, sys
import numpy as np
from composer.tf_runtime import keras, tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from composer.config import ModelConfig
from composer.model.network import build_model, compile_model


def trained(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model(ModelConfig(embedding_dim=8, units=16, layers=1, dropout=0.0, context=0), 40)
        compile_model(model, 0.01, 0, 10, clipnorm=0.05)
    rng = np.random.default_rng(0)
    events = rng.integers(0, 40, (32, 12)).astype("int32")
    targets = np.where(np.arange(32)[:, None] < 16, events, (events * 7) % 40)  # the halves pull apart
    model.fit(events, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


alone = trained(tf.distribute.OneDeviceStrategy("/cpu:0"))
pair = trained(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps(max(float(np.max(np.abs(a - b))) for a, b in zip(alone, pair))))
"""


@pytest.mark.slow
def test_replicas_clip_the_summed_gradient_as_one_device_clips_the_whole_batch():
    """Keras clips each replica's share before the replicas' gradients are summed, which lets the group
    step further than one device would; the limit must hold for the sum."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) < 1e-5
