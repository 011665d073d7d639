"""Reading music for training: a folder of MIDI files becomes encoded pieces (``corpus``), a prepared
cache of shards for large corpora (``prepare``), the training/validation split (``training_data``) and
the batches of windows the network learns from (``dataset``).
"""
