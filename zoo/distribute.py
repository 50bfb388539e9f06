"""What custom `train_step`s need to be right under a `tf.distribute` strategy (DESIGN.md, known pitfalls).

- Keras sums the gradients of the replicas, so a hand-written mean loss is divided by `num_replicas()` before the
  gradient is taken; the value that is logged stays unscaled.
- `keras.random` with a SeedGenerator gives every replica the same noise; `replica_normal` folds the replica id into
  a stateless seed so that each replica draws its own.
"""

import tensorflow as tf


def num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    ctx = tf.distribute.get_replica_context()
    return tf.constant(0, tf.int32) if ctx is None else tf.cast(ctx.replica_id_in_sync_group, tf.int32)


def replica_normal(shape, seed_generator, dtype="float32"):
    """Standard normal noise that differs between replicas and between steps."""
    seed = tf.cast(seed_generator.next(), tf.int32)
    seed = tf.stack([seed[0], seed[1] + 1000003 * replica_id()])
    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
