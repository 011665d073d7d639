import dataclasses

import pytest

from composer.config import CONTEXT_LAYOUT, EncodingConfig, ModelConfig, TrainConfig
from composer.errors import ComposerError

CHANGED = {
    EncodingConfig: EncodingConfig(steps_per_quarter=4, use_velocity=False, max_pitch=96, repeat_bars=4),
    ModelConfig: ModelConfig(embedding_dim=16, units=32, layers=1, dropout=0.1, context=2),
    TrainConfig: TrainConfig(epochs=3, batch_size=4, learning_rate=0.01, seed=7, carry_state=True),
}


@pytest.mark.parametrize("config", CHANGED.values(), ids=lambda c: type(c).__name__)
def test_every_config_saved_reads_back_equal_every_field_included(config):
    assert type(config).from_dict(config.to_dict()) == config
    assert set(config.to_dict()) == {field.name for field in dataclasses.fields(config)}


@pytest.mark.parametrize("cls", CHANGED, ids=lambda c: c.__name__)
def test_a_setting_this_version_does_not_know_is_refused(cls):
    with pytest.raises(ComposerError, match=f"{cls.__name__} has unknown settings wobble; .* upgrade it"):
        cls.from_dict({**cls().to_dict(), "wobble": 1})


def test_a_model_saved_before_the_context_input_reads_back_without_it():
    saved = {"embedding_dim": 128, "units": 256, "layers": 2, "dropout": 0.2}  # composer 0.3's model settings
    assert ModelConfig.from_dict(saved) == ModelConfig(context=0)
    assert ModelConfig.from_dict({**saved, "context": True}) == ModelConfig(context=1)  # composer 0.4.0's layout
    assert ModelConfig.from_dict(ModelConfig().to_dict()).context == CONTEXT_LAYOUT
