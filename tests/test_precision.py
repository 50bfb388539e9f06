"""`--precision`: every model builds and trains a step under each mixed policy; outputs stay float32.

On this CPU both mixed policies are slow (bfloat16 kernels without hardware support; float16 only through XLA's
kernels, compiled per model): the sweep over every model runs in `make bench` (marker ``bench``), and `make test`
runs it for one model of each kind of training step."""

import warnings

import keras
import numpy as np
import pytest

import zoo
from zoo.training.data import model_input
from zoo.training.run import _compile
from zoo.training.strategy import jit_compile

MODELS = zoo.list_models()


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


POLICIES = ["mixed_float16", "mixed_bfloat16"]
# Keras' own train_step (a 3-D classifier with batch normalization), a custom one with tfp distributions, one with two
# optimizers and one with hand-written contrastive-divergence gradients
REPRESENTATIVE = [m for m in ("c3d", "vae", "dcgan", "rbm") if m in MODELS]


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_representative_models_under_mixed_precision(name, policy):
    _train_a_step(name, policy)


@pytest.mark.bench
@pytest.mark.parametrize("policy", POLICIES, indirect=True)
@pytest.mark.parametrize("name", MODELS)
def test_every_model_under_mixed_precision(name, policy):
    _train_a_step(name, policy)


def _train_a_step(name, policy):
    info = zoo.model_info(name)
    keras.utils.set_random_seed(0)
    net = zoo.build(name, "tiny")
    assert net.dtype_policy.name == policy
    _compile(net, info, 1e-3, jit=jit_compile(False, policy))  # float16 on the CPU needs XLA's kernels
    if policy == "mixed_float16":
        assert isinstance(net.optimizer, keras.optimizers.LossScaleOptimizer)
    rng = np.random.default_rng(0)
    shape = model_input(net)
    make = lambda s: rng.uniform(0, 1, (4, *s)).astype("float32")  # noqa: E731
    x = {k: make(v) for k, v in shape.items()} if isinstance(shape, dict) else make(shape)
    y = rng.integers(0, net.outputs[0].shape[-1], 4) if info.task == "classification" else None
    before = [np.array(w) for w in net.trainable_weights]
    logs = net.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, net.trainable_weights))
    out = net.predict_on_batch(x)  # compiled like training (float16 on the CPU: by XLA)
    for leaf in keras.tree.flatten(out):  # softmax outputs, distributions, decoder means: float32
        assert keras.backend.standardize_dtype(leaf.dtype) == "float32"


def test_float16_run_trains_and_evaluates_end_to_end(tmp_path):
    """A C3D run under mixed_float16 (its 3-D pooling has no float16 CPU kernel: XLA's are used) trains, evaluates
    and exports; its saved layers keep the policy."""
    from pipelines import datasets
    from zoo.training import run

    data = datasets.video_dir("digit-actions", progress=False, train=4, val=1, test=2)
    run_dir = run.train("c3d", data, epochs=1, batch_size=8, precision="mixed_float16", run_dir=str(tmp_path / "r"),
                        verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = run.load_model(run_dir)
    assert {layer.dtype_policy.name for layer in net.layers} >= {"mixed_float16"}
    # its optimizer came back whole: loss scaling and the state of the 5 steps (40 clips, batch 8); loaded under
    # float32 it was a fresh plain Adam with a "Skipping variable loading" warning
    assert isinstance(net.optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(net.optimizer.iterations.numpy()) == 5
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert keras.mixed_precision.global_policy().name == "float32"  # the load left the global policy as it was
    result = run.evaluate(run_dir, num_clips=2)
    assert result["videos"] == 20 and 0 <= result["video_hit@1"] <= 1
    path, signatures = run.export(run_dir)
    assert signatures == ["serve"]
