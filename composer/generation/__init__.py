"""``composer generate``: the sampler and its constraints (``sample``, ``scales``), the network run in
NumPy (``inference``), finished scores and the files written (``generate``) and the record that
remakes a file (``sidecar``).
"""
