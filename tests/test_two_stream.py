"""Two-stream ConvNets end to end on flow shards: separate streams, fusion by averaging and by a linear SVM, one
SavedModel taking RGB and flow."""

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from pipelines import datasets
from zoo.training import fusion, run

SMALL = dict(flow="farneback", train=12, val=2, test=3, frames=16)


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    data = datasets.video_dir("digit-actions", progress=False, **SMALL)
    root = tmp_path_factory.mktemp("two-stream")
    runs = {}
    for name in ("two-stream-spatial", "two-stream-temporal"):
        runs[name] = run.train(name, data, epochs=2, batch_size=16, run_dir=str(root / name), verbose=0)
    return data, root, runs


def _inputs(net, data):
    info = run.zoo.model_info("two-stream")
    return next(iter(run.zdata.dataset(info, net, data, "test", 30, training=False)))


def test_average_fusion_is_the_mean_of_the_streams(streams):
    data, root, runs = streams
    fused_dir = fusion.fuse_runs(runs["two-stream-spatial"], runs["two-stream-temporal"], "average",
                                 run_dir=str(root / "avg"))
    net = run.load_model(fused_dir)
    x, _ = _inputs(net, data)
    spatial = run.load_model(runs["two-stream-spatial"])(x["rgb"])
    temporal = run.load_model(runs["two-stream-temporal"])(x["flow"])
    np.testing.assert_allclose(np.asarray(net(x)), (np.asarray(spatial) + np.asarray(temporal)) / 2, atol=1e-6)
    result = run.evaluate(fused_dir, num_clips=2)
    assert result["videos"] == 30 and result["views_per_video"] == 2


def test_svm_fusion_matches_a_linear_svm_on_l2_normalised_scores(streams):
    data, root, runs = streams
    fused_dir = fusion.fuse_runs(runs["two-stream-spatial"], runs["two-stream-temporal"], "svm",
                                 run_dir=str(root / "svm"))
    net = run.load_model(fused_dir)
    # the reference: the same SVM fitted here on the training videos' stacked, L2-normalised softmax scores
    scores, labels = fusion._softmax_scores(net, data, "train", 32)
    c = scores.shape[1] // 2
    l2 = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    svm = LinearSVC(C=1.0, max_iter=10000).fit(np.concatenate([l2(scores[:, :c]), l2(scores[:, c:])], 1), labels)
    test_scores, _ = fusion._softmax_scores(net, data, "test", 32)
    want = svm.predict(np.concatenate([l2(test_scores[:, :c]), l2(test_scores[:, c:])], 1))
    x, _ = _inputs(net, data)
    np.testing.assert_array_equal(np.argmax(np.asarray(net(x)), axis=1), want)

    path, signatures = run.export(fused_dir)
    diff, modules = run.check_export(fused_dir, path)  # inputs: uint8 RGB frames and float32 flow
    assert diff < 1e-5 and modules == []


def test_fuse_refuses_the_wrong_runs(streams):
    _, _, runs = streams
    with pytest.raises(run.ZooError, match="two-stream-spatial run and a two-stream-temporal run"):
        fusion.fuse_runs(runs["two-stream-temporal"], runs["two-stream-spatial"])
