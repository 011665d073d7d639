"""composer: learn note-event sequences from MIDI with an LSTM and write new music back as MIDI."""

__version__ = "0.1.0"
