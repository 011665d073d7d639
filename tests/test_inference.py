import numpy as np
import pytest

from composer.config import ModelConfig
from composer.context import context_size
from composer.errors import ComposerError
from composer.generation.inference import NumpyLSTM
from composer.model.network import build_model
from composer.tf_runtime import keras


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(8, 16, 1, context=0),
        ModelConfig(16, 32, 2, context=0),
        ModelConfig(12, 24, 3, dropout=0.5),
        ModelConfig(8, 16, 2),
        ModelConfig(8, 16, 2, context=1),
    ],
    ids=str,
)
def test_numpy_logits_match_keras(tmp_path, config):
    keras.utils.set_random_seed(0)
    model = build_model(config, vocab_size=40)
    for weight in model.weights:  # trained-looking weights, not just the initial ones
        weight.assign(np.random.default_rng(1).normal(0, 0.3, weight.shape).astype("float32"))
    model.save(tmp_path / "m.keras")
    events = np.random.default_rng(2).integers(0, 40, size=(3, 50))
    context = _random_context(events.shape, config.context) if config.context else None
    expected = model([events, context] if config.context else events, training=False).numpy()
    ours, _ = NumpyLSTM.load(tmp_path / "m.keras").run(events, context=context)
    assert np.abs(ours - expected).max() <= 1e-4


def _random_context(shape: tuple[int, int], layout: int) -> np.ndarray:
    return (np.random.default_rng(3).random((*shape, context_size(layout))) < 0.05).astype(np.float32)


@pytest.mark.parametrize("context", [0, 1, 2])
def test_stepping_with_state_equals_running_the_whole_sequence(tmp_path, context):
    model = build_model(ModelConfig(8, 16, 2, context=context), vocab_size=20)
    model.save(tmp_path / "m.keras")
    network = NumpyLSTM.load(tmp_path / "m.keras")
    events = np.random.default_rng(0).integers(0, 20, size=(2, 30))
    sounding = _random_context(events.shape, context) if context else None
    whole, _ = network.run(events, context=sounding)
    first, state = network.run(events[:, :10], context=None if sounding is None else sounding[:, :10])
    rest, _ = network.run(events[:, 10:], state, context=None if sounding is None else sounding[:, 10:])
    assert np.allclose(np.concatenate([first, rest], axis=1), whole, atol=1e-6)


def test_a_file_that_is_not_a_composer_model_is_refused(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ComposerError, match="unexpected layers"):
        NumpyLSTM.load(tmp_path / "other.keras")
    (tmp_path / "junk.keras").write_bytes(b"junk")
    with pytest.raises(ComposerError, match="not a readable .keras model"):
        NumpyLSTM.load(tmp_path / "junk.keras")
