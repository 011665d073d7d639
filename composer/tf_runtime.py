"""The one gateway to TensorFlow and Keras, imported only by the stages that train or evaluate.

TensorFlow >= 2.18 prints start-up lines (CPU features, missing CUDA) from C++ before
TF_CPP_MIN_LOG_LEVEL is read (tensorflow/tensorflow#100442); they are noise to a
musician, so the import runs with the process's stderr pointed at /dev/null.
Python errors raised by the import still reach the user once stderr is restored.

oneDNN is switched on unless the user set TF_ENABLE_ONEDNN_OPTS. Since 2.9 TensorFlow's
Linux x86 wheels enable it only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX (its
release notes). Elsewhere (the AMD EPYC of docs/benchmarks.md, for one) its Eigen
kernels run the skinny matmuls of the LSTM's backward time loop at about half
oneDNN's speed, and training ran 1.9x slower. TensorFlow reads the variable when
it loads; GPU kernels are unaffected.
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


os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
with _stderr_silenced():
    import keras
    import tensorflow as tf

__all__ = ["keras", "tf"]
