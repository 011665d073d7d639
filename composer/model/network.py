"""The network: event embedding -> stacked LSTM -> logits over the event vocabulary.

Plain Keras layers only, so a saved model loads with ``safe_mode`` and the NumPy
sampler can read its weights by layer name.
"""

from __future__ import annotations

from composer.config import ModelConfig
from composer.context import context_size
from composer.tf_runtime import keras, tf


def build_model(config: ModelConfig, vocab_size: int, stateful_batch: int | None = None) -> keras.Model:
    """Logits for the next event at every position of a (batch, time) array of event ids and, with
    ``config.context``, a (batch, time, context_size(config.context)) array of what sounds (``composer.context``).

    With ``stateful_batch``, the network trains on batches of exactly that many rows and each LSTM starts a
    batch from the state the previous batch ended in (truncated BPTT that carries the state); the weights
    are the same, so the published network is built without it.

    The context enters twice: added to the event's embedding, so the LSTM reads the chord it adds to,
    and beside the LSTM's output, so a pitch's logit can follow the key and the sounding notes directly.
    """
    events = keras.Input(batch_shape=(stateful_batch, None), dtype="int32", name="events")
    x = keras.layers.Embedding(vocab_size, config.embedding_dim, name="embedding")(events)
    if config.context:
        context = keras.Input(batch_shape=(stateful_batch, None, context_size(config.context)), name="context")
        seen = keras.layers.Dense(config.embedding_dim, use_bias=False, name="context_embedding")(context)
        x = keras.layers.Add(name="with_context")([x, seen])
    for layer in range(config.layers):
        # dropout between layers, not recurrent dropout: keeps the cuDNN kernel usable on GPUs
        x = keras.layers.LSTM(config.units, return_sequences=True, stateful=bool(stateful_batch), name=f"lstm_{layer}")(
            x
        )
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{layer}")(x)
    if config.context:
        x = keras.layers.Concatenate(name="output_with_context")([x, context])
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model([events, context] if config.context else events, logits, name="composer_lstm")


@keras.saving.register_keras_serializable(package="composer")
class SumClippedAdam(keras.optimizers.Adam):
    """Adam that clips each variable's gradient by norm after the replicas' gradients are summed.

    Keras 3 clips in ``apply``, before tf.distribute sums the replicas' gradients, so each replica's share
    is clipped alone and the group may step up to ``replicas x clipnorm`` (tensorflow/tensorflow#33929).
    ``update_step`` receives the summed gradient, so clipping there holds one limit for the whole batch,
    as on one device, where both are the same.
    """

    def __init__(self, *args, sum_clipnorm: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.sum_clipnorm = sum_clipnorm

    def update_step(self, gradient, variable, learning_rate):
        # dense: an embedding's sparse gradient lists a row once per occurrence, which would miscount its norm
        gradient = tf.convert_to_tensor(gradient)
        super().update_step(tf.clip_by_norm(gradient, self.sum_clipnorm), variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "sum_clipnorm": self.sum_clipnorm}


def compile_model(
    model: keras.Model, learning_rate: float, warmup_steps: int, decay_steps: int, clipnorm: float
) -> None:
    """Adam with norm clipping of the whole batch's gradient; linear warm-up, then cosine decay to a tenth of
    the peak rate."""
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10 if warmup_steps else learning_rate,
        decay_steps=max(1, decay_steps),
        alpha=0.1,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )
    model.compile(
        optimizer=SumClippedAdam(schedule, sum_clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
