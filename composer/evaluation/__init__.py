"""``composer evaluate`` and ``composer inspect``: likelihood against the baseline (``evaluate``), music
statistics against a corpus (``features``), the copy check (``copycheck``) and a file's events
(``inspection``).
"""
