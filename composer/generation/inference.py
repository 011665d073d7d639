"""The trained network run in NumPy, one event at a time, without importing TensorFlow.

A .keras file is a zip holding ``config.json`` (the layer graph) and
``model.weights.h5``; the weights are read with h5py and the embedding, LSTM cells
and output layer are recomputed here (Keras' gate order i, f, c, o; sigmoid gates,
tanh cell). The LSTM state is carried from step to step, so each new event costs
the same, however long the piece already is.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass

import h5py
import numpy as np

from composer.context import layout_of_size
from composer.errors import ComposerError

# without and with the context input (composer.model.network.build_model)
_EXPECTED_LAYERS = re.compile(
    r"^(InputLayer Embedding( LSTM Dropout)+|InputLayer InputLayer Embedding Dense Add( LSTM Dropout)+ "
    r"Concatenate) Dense$"
)
# What the NumPy step computes; a layer set up otherwise would be run wrongly without a word.
_EXPECTED_SETTINGS = {
    "LSTM": {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True, "go_backwards": False},
    "Dense": {"activation": "linear"},  # with a bias for the logits; the context's projection has none
    "Concatenate": {"axis": -1},
}


@dataclass
class LSTMLayer:
    kernel: np.ndarray  # (inputs, 4 * units)
    recurrent_kernel: np.ndarray  # (units, 4 * units)
    bias: np.ndarray  # (4 * units,)

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


class NumpyLSTM:
    """Embedding -> stacked LSTM -> dense logits, stepped with explicit state."""

    def __init__(
        self,
        embedding: np.ndarray,
        layers: list[LSTMLayer],
        dense_kernel: np.ndarray,
        dense_bias: np.ndarray,
        context_embedding: np.ndarray | None = None,
    ):
        self.layers = layers
        self.vocab_size = embedding.shape[0]
        # The first layer's input projection depends only on the event: one table lookup per step.
        self.input_table = embedding @ layers[0].kernel + layers[0].bias
        # Deeper layers take [input, state] through one stacked matrix: one matmul per layer per step.
        self.stacked = [np.concatenate([layer.kernel, layer.recurrent_kernel]) for layer in layers[1:]]
        units = layers[-1].units
        self.dense_kernel, self.dense_bias = dense_kernel[:units], dense_bias
        # the context (composer.context) enters the first layer and, beside the last one's output, the logits
        self.has_context = context_embedding is not None
        # which layout of composer.context it reads, by the width of its context input
        self.context_layout = layout_of_size(context_embedding.shape[0]) if self.has_context else 0
        if self.has_context:
            self.context_input = context_embedding @ layers[0].kernel
            self.context_output = dense_kernel[units:]

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyLSTM:
        """Read the weights of a composer .keras file, refusing any other network (see check_layers)."""
        layers = check_layers(path)
        try:
            with zipfile.ZipFile(path) as archive:
                weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        except (OSError, KeyError, zipfile.BadZipFile) as error:
            raise ComposerError(f"{path}: not a readable .keras model ({error})") from None
        with weights:
            return cls._from_weights(layers, weights, path)

    @classmethod
    def _from_weights(cls, layers: list[dict], weights: h5py.File, path) -> NumpyLSTM:
        paths = _weight_paths(layers)
        try:  # a crafted file may hold any arrays: wrong names, counts and shapes are refused, not crashed on
            variables = {
                name: [weights[f"{paths[name]}/{v}"][()] for v in sorted(weights[paths[name]])] for name in paths
            }
            lstms = [LSTMLayer(*variables[spec["config"]["name"]]) for spec in layers if spec["class_name"] == "LSTM"]
            named = {
                kind: [variables[spec["config"]["name"]] for spec in layers if spec["class_name"] == kind]
                for kind in ("Embedding", "Dense")
            }
            (embedding,), *context, (dense_kernel, dense_bias) = named["Embedding"] + named["Dense"]
            return cls(
                embedding.astype(np.float32),
                lstms,
                dense_kernel.astype(np.float32),
                dense_bias.astype(np.float32),
                context[0][0].astype(np.float32) if context else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ComposerError(f"{path}: weights do not match the model's layers ({error})") from None

    def initial_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (np.zeros((batch, layer.units), np.float32), np.zeros((batch, layer.units), np.float32))
            for layer in self.layers
        ]

    def step(self, events: np.ndarray, state: list, context: np.ndarray | None = None) -> tuple[np.ndarray, list]:
        """Logits (batch, vocab) for the event after ``events`` (batch,), and the new state. ``context``
        (batch, context width): what sounds after ``events``, for a network that reads it."""
        new_state = []
        h, c = state[0]
        z = self.input_table[events] + h @ self.layers[0].recurrent_kernel
        h, c = _cell(z + context @ self.context_input if self.has_context else z, c)
        new_state.append((h, c))
        for layer, stacked, (h_prev, c_prev) in zip(self.layers[1:], self.stacked, state[1:]):
            h, c = _cell(np.concatenate([h, h_prev], axis=1) @ stacked + layer.bias, c_prev)
            new_state.append((h, c))
        logits = h @ self.dense_kernel + self.dense_bias
        return (logits + context @ self.context_output if self.has_context else logits), new_state

    def run(
        self, events: np.ndarray, state: list | None = None, context: np.ndarray | None = None
    ) -> tuple[np.ndarray, list]:
        """Logits (batch, time, vocab) for every position of ``events`` (batch, time); ``context`` (batch,
        time, context width) beside them for a network that reads it."""
        state = state or self.initial_state(events.shape[0])
        logits = []
        for t in range(events.shape[1]):
            step_logits, state = self.step(events[:, t], state, None if context is None else context[:, t])
            logits.append(step_logits)
        return np.stack(logits, axis=1), state


def check_layers(path: str | os.PathLike) -> list[dict]:
    """The layers of a .keras file, refused unless they are exactly composer's network of stock Keras layers.

    Read from config.json without Keras, so nothing in the file is ever deserialized: a Lambda or
    custom layer (which could run code, or compute something the NumPy step does not) never loads.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        layers = config["config"]["layers"]
        classes = " ".join(str(layer["class_name"]) for layer in layers)
        stock = _EXPECTED_LAYERS.match(classes) and all(map(_is_stock_layer, layers))
    except (OSError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ComposerError(f"{path}: not a readable .keras model ({error})") from None
    if not stock:
        raise ComposerError(f"{path}: unexpected layers ({classes}); not a composer model, refusing to load it")
    return layers


def _is_stock_layer(layer: dict) -> bool:
    """A built-in Keras layer (not a registered custom class) set up the way the NumPy step computes it."""
    expected = _EXPECTED_SETTINGS.get(layer["class_name"], {})
    settings = layer.get("config", {})
    return (
        layer.get("module") == "keras.layers"
        and layer.get("registered_name") is None
        and all(settings.get(key) == value for key, value in expected.items())
    )


def _cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM update from the pre-activations z = x W + h U + b, gates in Keras' order i, f, c, o."""
    i, f, g, o = np.split(z, 4, axis=1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # the same function, without overflow warnings


def _weight_paths(layers: list[dict]) -> dict[str, str]:
    """Where Keras 3 stores each layer's variables: snake-case class name, numbered on repeats."""
    paths, used = {}, {}
    for layer in layers:
        base = _snake_case(layer["class_name"])
        used[base] = used.get(base, -1) + 1
        if layer["class_name"] in ("Embedding", "LSTM", "Dense"):
            key = f"layers/{base}" + (f"_{used[base]}" if used[base] else "")
            paths[layer["config"]["name"]] = key + ("/cell/vars" if layer["class_name"] == "LSTM" else "/vars")
    return paths


def _snake_case(name: str) -> str:
    """Keras' own rule (keras.src.utils.naming.to_snake_case): LSTM -> lstm, InputLayer -> input_layer."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
