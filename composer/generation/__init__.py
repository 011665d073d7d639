"""``composer generate``: what is asked (``request``), the network run in NumPy (``inference``), the sampler
and its constraints (``sample``, ``scales``), finished scores (``generate``), the files written (``output``)
and the record that remakes a file (``sidecar``).
"""
