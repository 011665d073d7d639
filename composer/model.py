"""The network: event embedding -> stacked LSTM -> logits over the event vocabulary.

Plain Keras layers only, so a saved model loads with ``safe_mode`` and the NumPy
sampler can read its weights by layer name.
"""

from __future__ import annotations

from composer.tf_runtime import keras

from composer.config import ModelConfig


def build_model(config: ModelConfig, vocab_size: int) -> keras.Model:
    """Logits for the next event at every position of a (batch, time) array of event ids."""
    events = keras.Input(shape=(None,), dtype="int32", name="events")
    x = keras.layers.Embedding(vocab_size, config.embedding_dim, name="embedding")(events)
    for layer in range(config.layers):
        # dropout between layers, not recurrent dropout: keeps the cuDNN kernel usable on GPUs
        x = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{layer}")(x)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{layer}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(events, logits, name="composer_lstm")


def compile_model(model: keras.Model, learning_rate: float, warmup_steps: int, decay_steps: int, clipnorm: float) -> None:
    """Adam with norm clipping; linear warm-up, then cosine decay to a tenth of the peak rate."""
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10 if warmup_steps else learning_rate,
        decay_steps=max(1, decay_steps),
        alpha=0.1,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
