"""The one gateway to TensorFlow and Keras, imported only by the stages that train or evaluate.

TensorFlow >= 2.18 prints start-up lines (CPU features, missing CUDA) from C++ before
TF_CPP_MIN_LOG_LEVEL is read (tensorflow/tensorflow#100442); they are noise to a
musician, so the import runs with the process's stderr pointed at /dev/null.
Python errors raised by the import still reach the user once stderr is restored.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def _stderr_silenced():
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _stderr_silenced():
    import keras
    import tensorflow as tf

__all__ = ["keras", "tf"]
