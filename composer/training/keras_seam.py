"""Every place composer reaches into Keras internals, for one Keras bug: keras-team/keras#20585.

Keras 3 does not support `tf.distribute` multi-worker strategies: its symbolic build and its per-step
log reduction call ``strategy.reduce`` in ways that fail for them (the issue, in which Keras' author says
so). `composer train --distribute multi-worker` works around both here, and only here, patching what
Keras 3.15 has (the tested range: ``distribute.TESTED_VERSIONS``). ``check`` says in one line what a later
Keras no longer has, so an upgrade fails loudly before a group starts rather than in its first step.
"""

from __future__ import annotations

from composer.errors import ComposerError

ISSUE = "https://github.com/keras-team/keras/issues/20585"
PATCHED = (
    "keras.src.backend.tensorflow.trainer.reduce_per_replica",
    "keras.src.backend.tensorflow.trainer._collective_all_reduce_multi_worker",
    "keras.Model._distribute_strategy",
)


def check() -> None:
    """Refuses a Keras that lacks what the workarounds patch."""
    from composer.tf_runtime import keras

    missing = [name for name in PATCHED if not _has(name, keras)]
    if missing:
        raise ComposerError(
            f"this Keras ({keras.__version__}) lacks {', '.join(missing)}, which composer patches "
            f"for multi-worker training ({ISSUE}); install the tested keras>=3.15,<3.16"
        )


def _has(name: str, keras) -> bool:
    if name == "keras.Model._distribute_strategy":  # set in Model.__init__: only an instance shows it
        return hasattr(keras.Sequential(), "_distribute_strategy")
    from keras.src.backend.tensorflow import trainer

    return hasattr(trainer, name.rsplit(".", 1)[1])


def skip_symbolic_build(model) -> None:
    """Keras' symbolic build calls ``strategy.reduce`` on the (inputs, targets) pair, which fails for
    multi-worker strategies: the model forgets the strategy it was built under, and fit takes it from the
    ``strategy.scope()`` it runs in."""
    model._distribute_strategy = None


def average_logs_over_the_group() -> None:
    """Keras 3 averages each worker's scalar logs (loss, metrics) with ``strategy.reduce(..., axis=0)``,
    which fails on scalars; average them over all replicas instead, so every worker sees the same loss at
    every step and takes the same decisions (the NaN guard's, early stopping's). With one replica per
    worker the logs arrive as this worker's plain tensors, which ``strategy.reduce`` would pass through
    unchanged: those are averaged over the group with a collective of their own."""
    from keras.src.backend.tensorflow import trainer

    from composer.tf_runtime import keras, tf

    if getattr(trainer.reduce_per_replica, "composer_fix", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)

        def group_mean(value):
            if isinstance(value, tf.distribute.DistributedValues):
                return strategy.reduce("MEAN", value, axis=None)
            return strategy.run(lambda own: tf.distribute.get_replica_context().all_reduce("MEAN", own), args=(value,))

        return keras.tree.map_structure(group_mean, values)

    reduce_per_replica.composer_fix = True
    trainer.reduce_per_replica = reduce_per_replica
