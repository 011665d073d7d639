from composer.config import CONTEXT_LAYOUT, ModelConfig


def test_a_model_saved_before_the_context_input_reads_back_without_it():
    saved = {"embedding_dim": 128, "units": 256, "layers": 2, "dropout": 0.2}  # composer 0.3's model settings
    assert ModelConfig.from_dict(saved) == ModelConfig(context=0)
    assert ModelConfig.from_dict({**saved, "context": True}) == ModelConfig(context=1)  # composer 0.4.0's layout
    assert ModelConfig.from_dict(ModelConfig().to_dict()).context == CONTEXT_LAYOUT
