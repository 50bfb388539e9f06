"""tf.data service: the input pipeline on other processes or machines (`tf.data.experimental.service`).

`zoo data serve` starts a dispatcher and workers (`serve`); `zoo train --data-service grpc://HOST:PORT` sends the
training pipeline there (`distribute`): the workers read the shards, decode and augment, the trainer only receives
batches. The workers need the shards at the same paths (a shared file system, or s3:// / gs:// / hdfs://).
"""

import signal
import threading

import tensorflow as tf

from zoo.errors import ZooError


def serve(port=5050, workers=1, host="localhost", ready=None):
    """Run a dispatcher on ``port`` and ``workers`` workers in this process until SIGINT or SIGTERM. ``ready``:
    called with the service address once everything listens."""
    if workers < 1:
        raise ZooError("a data service needs at least one worker")
    from tensorflow_io.python.ops import core_ops

    core_ops.io_file_read  # noqa: B018  (loads the ranged read of `pipelines.records.read_frames` for the workers)
    try:
        dispatcher = tf.data.experimental.service.DispatchServer(
            tf.data.experimental.service.DispatcherConfig(port=port))
    except tf.errors.UnknownError as e:
        raise ZooError(f"cannot start the dispatcher on port {port}: {e.message.splitlines()[0]}") from None
    address = f"{host}:{port}"
    servers = [tf.data.experimental.service.WorkerServer(
        tf.data.experimental.service.WorkerConfig(dispatcher_address=address, worker_address=f"{host}:%port%"))
        for _ in range(workers)]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if ready:
        ready(f"grpc://{address}")
    stop.wait()
    for server in servers:
        server.stop()
    dispatcher.stop()


def distribute(dataset, address, job_name=None):
    """``dataset`` produced by the service at ``address`` ("grpc://HOST:PORT" or "HOST:PORT"); every worker
    produces the whole (repeated) dataset and the trainer reads from all of them."""
    address = address if "://" in address else f"grpc://{address}"
    return dataset.apply(tf.data.experimental.service.distribute(processing_mode="parallel_epochs", service=address,
                                                                 job_name=job_name))
