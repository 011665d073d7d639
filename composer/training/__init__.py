"""``composer train``: the run (``train``), its saved state (``run_state``), training on several GPUs or
machines (``distribute``) and the Keras internals that needs (``keras_seam``).
"""
