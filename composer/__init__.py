"""composer: learn note-event sequences from MIDI with an LSTM and write new music back as MIDI."""

__version__ = "0.14.0"

import os as _os

# TensorFlow prints start-up chatter (CPU features, missing CUDA) that is noise to a musician;
# a user who wants it sets TF_CPP_MIN_LOG_LEVEL themselves.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
