"""Choosing the distribution strategy and whether to compile with XLA, per device.

XLA (`jit_compile`) made a small Conv3D model 8x and a ConvLSTM2D model 26x slower on the CPU here (measured), so it
is off on the CPU unless asked for (or needed: float16 on the CPU), and left to Keras ("auto") on accelerators.
"""

import json
import os

import tensorflow as tf

from zoo.errors import ZooError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")


def cluster():
    """(task type, task index, number of workers) from ``TF_CONFIG``; a clear error when it is missing or wrong."""
    try:
        config = json.loads(os.environ["TF_CONFIG"])
        workers = len(config["cluster"]["worker"]) + len(config["cluster"].get("chief", []))
        return config["task"]["type"], int(config["task"]["index"]), workers
    except KeyError as e:
        raise ZooError(f"--strategy multiworker needs TF_CONFIG with cluster.worker and task ({e} missing)") from None
    except (ValueError, TypeError) as e:
        raise ZooError(f"TF_CONFIG is not valid JSON of a cluster and a task: {e}") from None


def is_chief(task_type, task_index):
    """The worker that writes the run (Keras' convention: the chief, or worker 0 when there is no chief)."""
    return task_type == "chief" or (task_type == "worker" and task_index == 0 and
                                     "chief" not in json.loads(os.environ["TF_CONFIG"])["cluster"])


class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """TensorFlow's strategy with the two ``reduce`` calls Keras 3.15's `fit` makes of it working (measured; known as
    tensorflow/tensorflow#72388): a whole (x, y) batch in one call, to build the model ("Attempt to convert a value
    (PerReplica...) to a Tensor"), and the scalar logs of every step along axis 0 ("Invalid reduction dimension 0
    for input with 0 dimensions"). Here each value is reduced on its own, scalars across the replicas only."""

    def reduce(self, reduce_op, value, axis):
        parent = super(MultiWorkerMirroredStrategy, self)

        def one(v):
            scalar = self.experimental_local_results(v)[0].shape.rank == 0
            return parent.reduce(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def get_strategy(name="auto"):
    if name not in STRATEGIES:
        raise ZooError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "multiworker":  # one replica per worker process, gradients all-reduced over gRPC collectives
        cluster()
        return MultiWorkerMirroredStrategy()
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
