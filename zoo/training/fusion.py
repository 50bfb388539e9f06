"""Late fusion of two trained two-stream runs into one model (Simonyan & Zisserman 2014, Sec. 6, Table 3).

``average`` averages the softmax outputs of the spatial and the temporal stream; ``svm`` trains a multi-class
linear SVM (one-vs-rest, scikit-learn's LinearSVC) on the stacked, L2-normalised softmax scores of the training
videos and puts its weights into the model's final layer, so the fused model exports as one SavedModel taking RGB and
flow. The result is an ordinary run directory: `zoo evaluate` and `zoo export` work on it.
"""

import os

import numpy as np

import zoo
from zoo.errors import ZooError
from zoo.training import data as zdata
from zoo.training import run
from zoo.video.two_stream import fuse


def _softmax_scores(net, data, split, batch_size):
    """Centre-view softmax outputs of the spatial and temporal streams inside ``net``, per video, and labels."""
    info = zoo.model_info("two-stream")
    scores, labels = [], []
    for x, y in zdata.dataset(info, net, data, split, batch_size, training=False):
        spatial, temporal = net.get_layer("spatial_stream"), net.get_layer("temporal_stream")
        scores.append(np.concatenate([np.asarray(spatial(x["rgb"])), np.asarray(temporal(x["flow"]))], axis=1))
        labels.append(y.numpy())
    return np.concatenate(scores), np.concatenate(labels)


def fuse_runs(spatial_run, temporal_run, method="average", run_dir=None, svm_c=1.0, batch_size=32):
    """Join a ``two-stream-spatial`` and a ``two-stream-temporal`` run; returns the new run directory."""
    configs = [run.load_config(spatial_run), run.load_config(temporal_run)]
    if [c["model"] for c in configs] != ["two-stream-spatial", "two-stream-temporal"]:
        raise ZooError(f"zoo fuse takes a two-stream-spatial run and a two-stream-temporal run, got "
                       f"{configs[0]['model']!r} and {configs[1]['model']!r}")
    if configs[0]["data"] != configs[1]["data"]:
        raise ZooError(f"the streams were trained on different data: {configs[0]['data']!r} and {configs[1]['data']!r}")
    if method not in ("average", "svm"):
        raise ZooError(f"unknown fusion {method!r}; choose average or svm")
    spatial, temporal = run.load_model(spatial_run), run.load_model(temporal_run)
    net = fuse(spatial, temporal, "average")
    data = configs[1]["data"]
    if method == "svm":
        from sklearn.svm import LinearSVC

        scores, labels = _softmax_scores(net, data, "train", batch_size)
        c = scores.shape[1] // 2
        stacked = np.concatenate([_l2(scores[:, :c]), _l2(scores[:, c:])], axis=1)
        svm = LinearSVC(C=svm_c, max_iter=10000).fit(stacked, labels)
        net = fuse(spatial, temporal, "svm", svm=(svm.coef_.T.astype("float32"), svm.intercept_.astype("float32")))

    run_dir = run_dir or os.path.join(os.path.dirname(os.path.abspath(spatial_run)), f"two-stream-{method}")
    os.makedirs(os.path.join(run_dir, "figures"), exist_ok=True)
    config = dict(configs[1], model="two-stream", input="rgb+flow", fusion=method, streams=[spatial_run, temporal_run],
                  paper=zoo.model_info("two-stream").paper, parameters=int(net.count_params()),
                  arguments=dict(configs[1]["arguments"], fusion=method), batch_size=batch_size)
    run._write_json(os.path.join(run_dir, run.CONFIG), config)
    net.save(os.path.join(run_dir, "model.keras"))
    return run_dir


def _l2(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

