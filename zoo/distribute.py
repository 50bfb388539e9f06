"""What custom `train_step`s need to be right under a `tf.distribute` strategy (DESIGN.md, known pitfalls).

- Keras sums the gradients of the replicas, so a hand-written mean loss is divided by `num_replicas()` before the
  gradient is taken; the value that is logged stays unscaled.
- `keras.random` with a SeedGenerator gives every replica the same noise; `replica_normal` and `replica_uniform` fold
  the replica id into a stateless seed so that each replica draws its own.

Models call the noise functions through this module (`distribute.replica_normal(...)`), so a test can replace them,
e.g. by zeros (normal) and 0.5 (uniform), to make a training step deterministic and compare a run under a strategy
with a single-device run at the same global batch.
"""

import tensorflow as tf


def num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    ctx = tf.distribute.get_replica_context()
    return tf.constant(0, tf.int32) if ctx is None else tf.cast(ctx.replica_id_in_sync_group, tf.int32)


def _replica_seed(seed_generator):
    """The generator's next stateless seed with the replica id folded in."""
    seed = tf.cast(seed_generator.next(), tf.int32)
    return tf.stack([seed[0], seed[1] + 1000003 * replica_id()])


def replica_normal(shape, seed_generator, dtype="float32"):
    """Standard normal noise that differs between replicas and between steps."""
    return tf.random.stateless_normal(shape, seed=_replica_seed(seed_generator), dtype=dtype)


def replica_uniform(shape, seed_generator, dtype="float32"):
    """Uniform noise on [0, 1) that differs between replicas and between steps."""
    return tf.random.stateless_uniform(shape, seed=_replica_seed(seed_generator), dtype=dtype)
