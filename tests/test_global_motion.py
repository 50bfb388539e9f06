"""Video zoo II, global motion: the recurrent models learn digit-actions (classes defined by motion alone, chance 0.1)
within small budgets, Baccouche et al.'s two-step training works, and pretrained 2-D backbones load from a local
file (``backbone_weights=PATH``), never downloaded."""

import os

import keras
import numpy as np
import pytest

import zoo
from pipelines import datasets
from zoo.errors import ZooError
from zoo.layers import PerStep
from zoo.training import run
from zoo.video import backbones

# 100 training videos per class, 32 frames each (generated once, then cached)
SMALL = dict(train=100, val=3, test=10, frames=32)


@pytest.fixture(scope="module")
def data():
    return datasets.video_dir("digit-actions", progress=False, **SMALL)


def _train_and_test(name, data, root, epochs, learning_rate=3e-3, **overrides):
    run_dir = run.train(name, data, epochs=epochs, batch_size=16, learning_rate=learning_rate, overrides=overrides,
                        run_dir=str(root / name), verbose=0)
    return run_dir, run.evaluate(run_dir, num_clips=2)


def test_gru_rcn_learns_motion(data, tmp_path):
    """Ballas et al.'s GRU-RCN (tiny: 8 frames, small VGG percepts) from scratch, 4 epochs: video hit@1 0.36 on
    an Intel Xeon (chance 0.10; 0.46 after 6 epochs)."""
    _, result = _train_and_test("gru-rcn", data, tmp_path, epochs=4)
    print(f"\ngru-rcn: video hit@1 {result['video_hit@1']:.3f} clip hit@1 {result['clip_hit@1']:.3f}")
    assert result["videos"] == 100
    assert result["video_hit@1"] > 0.25


def test_baccouche_two_steps(data, tmp_path):
    """Step 1: the 3D ConvNet on 9-frame windows; step 2: the LSTM on its frozen features (Baccouche et al. 2011)."""
    cnn_run, cnn_result = _train_and_test("baccouche-3dcnn", data, tmp_path, epochs=6)
    lstm_run, result = _train_and_test("baccouche", data, tmp_path, epochs=4, train_backbone=False,
                                       backbone_weights=os.path.join(cnn_run, "model.keras"))
    print(f"\nbaccouche: 3D ConvNet (one window) video hit@1 {cnn_result['video_hit@1']:.3f}, "
          f"+ LSTM over 3 windows {result['video_hit@1']:.3f}")
    cnn, net = run.load_model(cnn_run), run.load_model(lstm_run)
    window = net.get_layer("window_features").layer
    for layer in window.layers:  # step 2 left the step-1 network as it was
        for got, want in zip(layer.get_weights(), cnn.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, want)
    assert not window.trainable_weights and net.get_layer("lstm").trainable_weights
    assert cnn_result["video_hit@1"] > 0.12  # chance: 0.10 (measured 0.17)
    assert result["video_hit@1"] > max(0.25, cnn_result["video_hit@1"] + 0.1)  # the LSTM over 3 windows: 0.35


@pytest.fixture(scope="module")
def trained_backbone(tmp_path_factory):
    """The tiny CaffeNet tower trained a little as a frame classifier (MNIST digits placed in 32x32 RGB frames),
    saved as .keras and as .weights.h5."""
    keras.utils.set_random_seed(0)
    x, y = datasets.image_arrays("mnist", "train")
    frames = np.repeat(np.pad(x[:1024], ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1) / 255.0
    tower = backbones.build_backbone("small-caffenet", 32, 32, 3)
    tower.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = tower.fit(frames, y[:1024], epochs=1, batch_size=64, verbose=0)
    root = tmp_path_factory.mktemp("backbone")
    paths = {"keras": str(root / "tower.keras"), "h5": str(root / "tower.weights.h5")}
    tower.save(paths["keras"])
    tower.save_weights(paths["h5"])
    return tower, paths, history.history["accuracy"][-1]


def _frame_cnn(model):
    """The per-frame CNN inside a video model (the segment its `PerStep` layer wraps)."""
    return next(layer.layer for layer in model.layers if isinstance(layer, PerStep))


@pytest.mark.parametrize("name, kind", [("lrcn", "keras"), ("snippets-lstm", "h5")])
def test_backbone_weights_are_the_trained_ones(trained_backbone, name, kind):
    tower, paths, accuracy = trained_backbone
    assert accuracy > 0.5  # it did learn something: its weights are not an initialization
    cnn = _frame_cnn(zoo.build(name, "tiny", num_classes=10, backbone_weights=paths[kind]))
    compared = 0
    for layer in cnn.layers:
        for got, want in zip(layer.get_weights(), tower.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, want)
            compared += 1
    assert compared >= 16  # conv1-5 with their batch normalization, fc6: every weight of the per-frame CNN
    fresh = _frame_cnn(zoo.build(name, "tiny", num_classes=10))
    assert not np.array_equal(fresh.get_layer("conv1").get_weights()[0], cnn.get_layer("conv1").get_weights()[0])


def test_wrong_backbone_files_are_one_clear_error(trained_backbone, tmp_path):
    _, paths, _ = trained_backbone
    other = backbones.build_backbone("small-vgg", 32, 32, 3)
    other.save_weights(str(tmp_path / "vgg.weights.h5"))
    (tmp_path / "junk.keras").write_text("not a model")
    (tmp_path / "weights.npz").write_bytes(b"")
    cases = {str(tmp_path / "vgg.weights.h5"): "does not hold weights of the backbone",
             str(tmp_path / "junk.keras"): "does not hold weights of the backbone",
             str(tmp_path / "missing.keras"): "not found",
             str(tmp_path / "weights.npz"): "must be a .keras or .weights.h5 file"}
    for path, message in cases.items():
        with pytest.raises(ZooError, match=message) as error:
            zoo.build("lrcn", "tiny", num_classes=10, backbone_weights=path)
        assert "\n" not in str(error.value), str(error.value)
    with pytest.raises(ZooError, match="small_caffenet"):  # a VGG file for the CaffeNet tower: names the backbone
        zoo.build("lrcn", "tiny", num_classes=10, backbone_weights=str(tmp_path / "vgg.weights.h5"))


def test_torus_backbone_is_equivariant_to_shifts_on_the_torus():
    """"small-caffenet-torus" wraps every convolution and pooling around the frame's edges, as digit-actions' scene
    does: shifting a frame by 8 pixels (its total stride) on the torus shifts pool5 by one cell and leaves pool5's
    global average unchanged; the zero-padded "small-caffenet" changes under the same shift."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    shifted = np.roll(x, (8, -16), axis=(1, 2))
    torus = backbones.build_backbone("small-caffenet-torus", 32, 32, 3)
    cut = keras.Model(torus.input, [torus.get_layer("pool5").output, torus.get_layer("pool5_average").output])
    (maps, average), (maps_s, average_s) = cut(x), cut(shifted)
    np.testing.assert_allclose(np.roll(maps, (1, -2), axis=(1, 2)), maps_s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(average, average_s, rtol=1e-5, atol=1e-6)
    plain = backbones.build_backbone("small-caffenet", 32, 32, 3)
    pool5 = keras.Model(plain.input, plain.get_layer("pool5").output)
    a, b = np.asarray(pool5(x)).mean(axis=(1, 2)), np.asarray(pool5(shifted)).mean(axis=(1, 2))
    assert np.abs(a - b).max() > 1e-2 * np.abs(a).max()  # zero padding: the edges break the symmetry


def test_pretraining_on_digit_poses_learns_and_loads_into_lrcn(tmp_path):
    """`zoo.training.pretrain.digit_poses` (the stand-in for ImageNet pretraining): a few epochs on 6,000 posed
    frames put the digit's place on held-out frames of the test digits in the right cell of 16 most of the time
    (0.88 measured; chance 0.06), and the saved backbone is the one LRCN then loads."""
    from zoo.training import pretrain

    path = str(tmp_path / "torus.keras")
    result = pretrain.digit_poses(path, frames=6000, held_out=500, epochs=3, batch_size=32, verbose=0)
    print(f"\npretrained on 6,000 frames: {result}")
    assert result["place"] > 0.5 and result["scale"] > 1 / 3
    saved = keras.saving.load_model(path)
    cnn = _frame_cnn(zoo.build("lrcn", "tiny", num_classes=10, backbone="small-caffenet-torus", backbone_weights=path))
    for name in ("conv1", "conv5_bn", "fc6"):
        for got, want in zip(cnn.get_layer(name).get_weights(), saved.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ZooError, match="as a .keras file"):
        pretrain.digit_poses(str(tmp_path / "torus.h5"))


def test_pretrain_from_the_command_line(tmp_path, capsys):
    """`zoo pretrain` writes a backbone and reports its held-out accuracies; the `--set` overrides it prints build
    LRCN on that backbone, loaded from the file and frozen."""
    from zoo import cli

    path = str(tmp_path / "cnn.keras")
    cli.main(["pretrain", "--out", path, "--frames", "64", "--epochs", "1", "--verbose", "0"])
    out = capsys.readouterr().out
    assert "held-out frames (2,000 of the test digits): angle bin" in out
    overrides = cli.parse_overrides(out.split("--data digit-actions ")[1].rstrip(")\n").split("--set ")[1:])
    assert overrides == {"backbone": "small-caffenet-torus", "backbone_weights": path, "train_backbone": False}
    cnn = _frame_cnn(zoo.build("lrcn", "tiny", num_classes=10, **overrides))
    assert not cnn.trainable_weights
    saved = keras.saving.load_model(path)
    for got, want in zip(cnn.get_layer("conv1").get_weights(), saved.get_layer("conv1").get_weights()):
        np.testing.assert_array_equal(got, want)
