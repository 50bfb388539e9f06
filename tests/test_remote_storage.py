"""Shards on s3:// through tensorflow-io, against moto's S3 server started here on a free loopback port.

tensorflow-io's S3 file system makes the interpreter abort at exit after S3 I/O (DESIGN.md), so everything that
touches s3:// runs in a subprocess whose exit is under control: the reader script leaves with os._exit(0), and the
`zoo` command must give its own exit code."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pipelines import datasets, video

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

SMALL = dict(frames=8, size=32, train=2, val=1, test=1, shards=2)  # as in test_data: the same cached directory
PIPELINES = {  # name -> keyword arguments of video.clips
    "train": dict(clip_len=4, size=(28, 28), batch_size=5, training=True, seed=3),
    "eval": dict(clip_len=4, size=(28, 28), batch_size=5, training=False, num_clips=2, crops=3),
    # only the clips' frames read, by byte ranges found in the shards' indexes (tensorflow-io's ranged S3 reads)
    "train-ranges": dict(clip_len=4, size=(28, 28), batch_size=5, training=True, seed=3, ranges=True),
}

READER = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    from pipelines import records, video

    registered = lambda: set(tf.io.gfile.get_registered_schemes())
    before = {"s3": "s3" in registered(), "tensorflow_io": "tensorflow_io" in sys.modules}
    root, out, pipelines = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    files = records.shard_files(root, "train")  # registers s3:// on first use
    arrays = {}
    for name, kw in pipelines.items():
        for i, (x, y) in enumerate(video.clips(files, **kw)):
            arrays[f"{name}-x{i}"], arrays[f"{name}-y{i}"] = x.numpy(), y.numpy()
    records.use_filesystem(["gs://bucket/a", "hdfs://namenode:8020/a"])
    try:
        records.use_filesystem("nofs://bucket/a")
        unknown = "accepted"
    except ValueError as e:
        unknown = str(e)
    np.savez(out, **arrays)
    print(json.dumps({"files": files, "before": before, "unknown": unknown,
                      "after": sorted(registered() & {"s3", "gs", "hdfs"})}))
    sys.stdout.flush()
    os._exit(0)  # not the interpreter's exit: it would abort after S3 I/O
""")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on a free loopback port with bucket "zoo" holding a small digit-actions under "da/"."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = dict(AWS_ACCESS_KEY_ID="zoo-test", AWS_SECRET_ACCESS_KEY="zoo-test", AWS_REGION="us-east-1")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket="zoo")
    local = datasets.video_dir("digit-actions", progress=False, **SMALL)
    for name in os.listdir(local):
        client.upload_file(os.path.join(local, name), "zoo", f"da/{name}")
    env = {**os.environ, **keys, "S3_ENDPOINT": endpoint, "S3_USE_HTTPS": "0", "S3_VERIFY_SSL": "0",
           "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    yield {"env": env, "local": local}
    server.stop()


def test_clips_from_s3_equal_clips_from_the_local_copy(s3, tmp_path):
    out = str(tmp_path / "s3.npz")
    proc = subprocess.run([sys.executable, "-c", READER, "s3://zoo/da", out, json.dumps(PIPELINES)], env=s3["env"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["files"] == ["s3://zoo/da/train-00000-of-00002.tfrecord", "s3://zoo/da/train-00001-of-00002.tfrecord"]
    # tensorflow-io is imported only when a path needs it; then s3, gs and hdfs are all registered schemes
    assert report["before"] == {"s3": False, "tensorflow_io": False}
    assert report["after"] == ["gs", "hdfs", "s3"]
    assert report["unknown"].startswith("no file system for nofs://")
    local_files = datasets.video_files("digit-actions", "train", **SMALL)
    # tf.data's seeded ops also depend on TensorFlow's global seed, which earlier tests may have set (Keras'
    # set_random_seed); the reader subprocess has none.
    import tensorflow as tf

    tf.random.set_seed(None)
    with np.load(out) as remote:
        for name, kw in PIPELINES.items():
            batches = list(video.clips(local_files, **kw))
            assert len(batches) == sum(k.startswith(f"{name}-x") for k in remote.files) > 0
            for i, (x, y) in enumerate(batches):
                np.testing.assert_array_equal(remote[f"{name}-x{i}"], x.numpy())
                np.testing.assert_array_equal(remote[f"{name}-y{i}"], y.numpy())


def test_zoo_command_exits_with_its_own_code_after_s3_io(s3):
    zoo = [sys.executable, "-m", "zoo", "data", "info"]
    ok = subprocess.run(zoo + ["s3://zoo/da"], env=s3["env"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-3000:]  # not 134: the abort at exit is avoided
    info = json.loads(ok.stdout)
    assert info["classes"][:2] == ["translate-right", "translate-left"]
    assert info["meta"]["splits"]["train"]["videos"] == 20
    missing = subprocess.run(zoo + ["s3://zoo/nothing-here"], env=s3["env"], capture_output=True, text=True,
                             timeout=300)
    assert missing.returncode == 2 and missing.stderr.startswith("zoo: error: unknown dataset 's3://zoo/nothing-here'")
    assert len(missing.stderr.strip().splitlines()) == 1
