import pytest

from composer.errors import ComposerError
from composer.training import keras_seam


def test_the_installed_keras_has_everything_the_workarounds_patch():
    keras_seam.check()  # fails here first, with the names, when a Keras upgrade removes one


def test_a_keras_without_what_is_patched_is_refused_naming_it(monkeypatch):
    from keras.src.backend.tensorflow import trainer

    monkeypatch.delattr(trainer, "_collective_all_reduce_multi_worker")
    with pytest.raises(ComposerError) as refused:
        keras_seam.check()
    message = str(refused.value)
    assert "lacks keras.src.backend.tensorflow.trainer._collective_all_reduce_multi_worker" in message
    assert keras_seam.ISSUE in message and "keras>=3.15,<3.16" in message


def test_the_group_mean_patch_is_installed_once(monkeypatch):
    from keras.src.backend.tensorflow import trainer

    monkeypatch.setattr(trainer, "reduce_per_replica", trainer.reduce_per_replica)  # undone after the test
    keras_seam.average_logs_over_the_group()
    patched = trainer.reduce_per_replica
    keras_seam.average_logs_over_the_group()
    assert patched.composer_fix and trainer.reduce_per_replica is patched
