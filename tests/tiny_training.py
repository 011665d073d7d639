"""The smallest trainings the tests run: a network and batches small enough to learn the toy corpus in seconds."""

TINY = "--units 16 --embedding-dim 8 --batch-size 8 --sequence-length 32".split()


def train_args(data, out, *options) -> list[str]:
    """`composer train DATA --out OUT` with the tiny network and ``options`` (each passed through str)."""
    return ["train", str(data), "--out", str(out), *TINY, *map(str, options)]
