"""Choosing the distribution strategy and whether to compile with XLA, per device.

XLA (`jit_compile`) made a small Conv3D model 8x and a ConvLSTM2D model 26x slower on the CPU here (measured), so it
is off on the CPU unless asked for (or needed: float16 on the CPU), and left to Keras ("auto") on accelerators.
"""

import tensorflow as tf

from zoo.errors import ZooError

STRATEGIES = ("auto", "default", "mirrored")


def get_strategy(name="auto"):
    if name not in STRATEGIES:
        raise ZooError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        if gpus:
            return tf.distribute.MirroredStrategy()
        # CPU replicas: the default RING collectives deadlock or mismatch when synchronized batch normalization
        # and the gradient all-reduce interleave differently on two replicas (measured: "Shape mismatch in the
        # collective instance"); reducing on one device has no ordering to get wrong.
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    return tf.distribute.get_strategy()


def jit_compile(requested=False, precision="float32"):
    """True when asked; otherwise "auto" on a GPU and False on the CPU, except float16 on the CPU: TensorFlow has
    no CPU kernels for half-precision 3-D pooling and others (measured: MaxPool3D), XLA's CPU backend has them."""
    if requested:
        return True
    if tf.config.list_logical_devices("GPU"):
        return "auto"
    return precision == "mixed_float16"
