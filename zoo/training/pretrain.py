"""Pretraining a frame CNN without downloads: the zoo's stand-in for the ImageNet-trained CNNs that the papers'
recurrent models start from (LRCN, Donahue et al. 2015, Sec. 4; Beyond Short Snippets, Ng et al. 2015).

`digit_poses` trains a backbone of `zoo.video.backbones` on single frames drawn exactly as `digit-actions` draws a
frame (`pipelines.embedded.digit_poses`), to tell where the digit is and how it is turned and scaled: two softmax
heads on the layer under the backbone's own ``predictions`` (fc7 after its dropout), one over the pose (12 angle bins
of 30 degrees x 3 bins of the log-scale: 36 classes), one over the place (the cell of a 4 x 4 grid that holds the
digit's centre), their cross-entropies summed. Those are what the motions of digit-actions change from frame to frame
(translations the place, rotations the angle, zooms the scale), as ImageNet features give a video model what
changes in a real scene. The digits 0, 1 and 8 look alike half a turn apart, so their angle is ambiguous: they are
left out. The frames come from the training digits; the held-out frames, on which the heads are measured, from the
test digits.

The saved file is the backbone alone (a `.keras` file that ``backbone_weights=PATH`` loads into a video model built
with the same ``backbone``): the two heads are dropped, and the backbone's own ``predictions`` layer stays untrained
(the video models cut the backbone below it). Keep it frozen there (``train_backbone=False``): LRCN on digit-actions
from it reached 0.943 video hit@1 with it frozen, 0.700 with it fine-tuned at Adam 1e-3 (`zoo bench accuracy
--family global`, same seed).
"""

import os

import keras
import numpy as np

from pipelines import embedded
from zoo.errors import ZooError
from zoo.video import backbones

AMBIGUOUS_DIGITS = (0, 1, 8)  # alike half a turn apart
ANGLE_BINS, SCALE_BINS, GRID = 12, 3, 4


def _frames(num, seed, digits, labels, size):
    kept = digits[~np.isin(labels, AMBIGUOUS_DIGITS)]
    return embedded.digit_poses(num, seed, kept, size, angle_bins=ANGLE_BINS, scale_bins=SCALE_BINS, grid=GRID)


def pose_model(backbone, size=32):
    """``backbone`` (a name of `backbones.BACKBONES`) for uint8 frames of ``size`` x ``size`` with the pose and place
    heads on the input of its ``predictions`` layer; returns (model, backbone model), sharing their layers."""
    try:
        net = backbones.build_backbone(backbone, size, size)
    except ValueError as e:  # e.g. keras.applications' VGG-16 with its top wants 224 x 224 frames
        reason = str(e).splitlines()[0]
        raise ZooError(f"the backbone {backbone!r} cannot take {size} x {size} frames: {reason}") from None
    frame = keras.Input((size, size, 3), dtype="uint8", name="frame")
    features = keras.Model(net.input, net.get_layer("predictions").input, name=f"{net.name}_features")
    x = features(keras.layers.Rescaling(1 / 255, name="to_unit_range")(frame))
    pose = keras.layers.Dense(ANGLE_BINS * SCALE_BINS, activation="softmax", name="pose", dtype="float32")(x)
    place = keras.layers.Dense(GRID * GRID, activation="softmax", name="place", dtype="float32")(x)
    return keras.Model(frame, {"pose": pose, "place": place}, name=f"{net.name}_poses"), net


def held_out_accuracy(model, frames, pose, place, batch_size=256):
    """The heads' accuracies: angle bin (right, and within one bin of the circle), scale bin, place."""
    out = model.predict(frames, batch_size=batch_size, verbose=0)
    p, q = np.argmax(out["pose"], -1), np.argmax(out["place"], -1)
    angle, true_angle = p // SCALE_BINS, pose // SCALE_BINS
    off = np.minimum((angle - true_angle) % ANGLE_BINS, (true_angle - angle) % ANGLE_BINS)
    return {"angle": float(np.mean(off == 0)), "angle_within_one_bin": float(np.mean(off <= 1)),
            "scale": float(np.mean(p % SCALE_BINS == pose % SCALE_BINS)), "place": float(np.mean(q == place))}


def digit_poses(path, backbone="small-caffenet-torus", frames=60000, held_out=2000, epochs=10, batch_size=64,
                learning_rate=1e-3, seed=1, size=32, verbose="auto"):
    """Train ``backbone`` on ``frames`` posed frames (Adam, ``epochs``), save it to ``path`` (.keras) and return its
    held-out accuracies (`held_out_accuracy`) on ``held_out`` frames of the test digits, with the recipe."""
    if not os.fspath(path).endswith(".keras"):
        raise ZooError(f"the pretrained backbone is saved as a .keras file, got {path!r}")
    if min(frames, held_out, epochs) < 1:
        raise ZooError("frames, held_out and epochs must be positive")
    keras.utils.set_random_seed(seed)
    model, net = pose_model(backbone, size)  # first: a wrong backbone fails before the frames are drawn
    x_train, y_train, x_test, y_test = embedded.mnist()
    x, pose, place = _frames(frames, seed, x_train, y_train, size)
    xt, pose_t, place_t = _frames(held_out, seed + 1, x_test, y_test, size)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={"pose": "sparse_categorical_crossentropy", "place": "sparse_categorical_crossentropy"})
    model.fit(x, {"pose": pose, "place": place}, batch_size=batch_size, epochs=epochs, verbose=verbose)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    net.save(path)
    return dict(held_out_accuracy(model, xt, pose_t, place_t), backbone=backbone, frames=frames, held_out=held_out,
                epochs=epochs, batch_size=batch_size, seed=seed, path=os.fspath(path))
