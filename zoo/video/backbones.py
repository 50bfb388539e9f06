"""2-D (frame) backbones shared by the recurrent video models, and loading their pretrained weights from a local file.

- `vgg16`: VGG-16 from `keras.applications`, built with ``weights=None`` and its fully connected layers (``fc1``,
  ``fc2`` are the paper's fc6, fc7): the percepts of Ballas et al.'s GRU-RCN come from its named layers.
- `caffenet`: the five-convolution CaffeNet / AlexNet family (conv1 pool1 norm1 conv2 pool2 norm2 conv3 conv4 conv5
  pool5 fc6 fc7 fc8, Caffe's order), configurable as the Caffe reference model (Ng et al. 2015) or as the hybrid of
  LRCN (Donahue et al. 2015); pooling is 3x3 / 2 with Caffe's ceil rounding.
- `small_vgg`: a CPU-sized tower with VGG-16's layer names (one convolution per block), for the tiny presets.

Every backbone is a complete image classifier (it ends in a softmax over ``classes``), so it can be trained on
frames and saved on its own; a video model then takes its layers up to named ones with `segments` and applies them to
every frame (`zoo.layers.PerStep`). ``backbone_weights=PATH`` in a builder calls `load_backbone_weights`
on the freshly built backbone before that: nothing is ever downloaded.

`BACKBONES` names the configurations the video models use (``backbone=NAME`` in their builders): "vgg16",
"small-vgg", "caffenet" (Ng et al.'s AlexNet), "lrcn-hybrid" (LRCN's network), "small-caffenet" (CPU-sized) and
"small-caffenet-torus" (CPU-sized, its convolutions wrapping around the frame's edges, for `digit-actions`).
`build_backbone(NAME, height, width, channels)` gives one as a frame classifier (to train and save on frames).
"""

import functools
import os
import warnings

import keras

from zoo.errors import ZooError
from zoo.layers import CircularPadding2D, GroupedConv2D, LocalResponseNormalization, PerStep

WEIGHT_FILES = (".keras", ".weights.h5")


def vgg16(height=224, width=224, channels=3, classes=1000):
    """VGG-16 (Simonyan & Zisserman 2015, configuration D) from keras.applications, untrained."""
    return keras.applications.VGG16(weights=None, include_top=True, input_shape=(height, width, channels),
                                    classes=classes)


def _conv(x, filters, kernel, name, stride=1, groups=1, padding="same", batchnorm=False):
    """A convolution, batch normalization (or a bias) and ReLU; ``padding`` "circular" wraps the map around its edges
    by half the kernel (`zoo.layers.CircularPadding2D`) before a "valid" convolution."""
    if padding == "circular":
        x, padding = CircularPadding2D(kernel // 2, name=f"{name}_wrap")(x), "valid"
    conv = GroupedConv2D if groups > 1 else keras.layers.Conv2D
    x = conv(filters, kernel, strides=stride, padding=padding, groups=groups, use_bias=not batchnorm, name=name)(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _fully_connected(x, units, dropout, names, classes):
    """fc layers with ReLU and dropout, then the softmax over ``classes``; ``names`` of the hidden layers."""
    for name, n in zip(names, units):
        x = keras.layers.Dense(n, activation="relu", name=name)(x)
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return keras.layers.Dense(classes, activation="softmax", name="predictions", dtype="float32")(x)


def caffe_pool(x, name, circular=False):
    """3x3 max pooling, stride 2, with Caffe's output size ceil((n - 3) / 2) + 1: on an even size the last window
    hangs over the edge, which a row / column of zeros reproduces exactly here (the maps are ReLU outputs, >= 0).
    ``circular``: the windows wrap around the map's edges instead (one row / column from the opposite edge on every
    side; n / 2 outputs on an even size, as Caffe's)."""
    if circular:
        return keras.layers.MaxPooling2D(3, strides=2, name=name)(CircularPadding2D(1, name=f"{name}_wrap")(x))
    pad = (1 - x.shape[1] % 2, 1 - x.shape[2] % 2)
    if any(pad):
        x = keras.layers.ZeroPadding2D(((0, pad[0]), (0, pad[1])), name=f"{name}_ceil")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name=name)(x)


def caffenet(height=227, width=227, channels=3, widths=(96, 256, 384, 384, 256), kernels=(11, 5, 3, 3, 3),
             strides=(4, 1, 1, 1, 1), paddings=("valid", "same", "same", "same", "same"), groups=(1, 2, 1, 2, 2),
             fc_units=(4096, 4096), dropout=0.5, classes=1000, batchnorm=False, lrn=True, average=False,
             name="caffenet"):
    """The Caffe reference network by default (60,965,224 parameters with 1000 classes). ``groups`` splits a
    convolution's channels as Caffe's ``group`` does (`zoo.layers.GroupedConv2D`). A ``paddings`` entry "circular"
    wraps that convolution and the pooling after it around the frame's edges (for scenes on a torus); ``lrn``: Caffe's
    norm1 and norm2; ``average``: fc6 sees the global average of pool5 (one value a channel, wherever the pattern
    is) beside the flattened pool5."""
    frame = keras.Input((height, width, channels), name="frame")
    x = frame
    layers = zip(widths, kernels, strides, paddings, groups)
    for i, (filters, kernel, stride, padding, group) in enumerate(layers, start=1):
        x = _conv(x, filters, kernel, f"conv{i}", stride, group, padding, batchnorm)
        if i in (1, 2, 5):
            x = caffe_pool(x, f"pool{i}", circular=padding == "circular")
        if i in (1, 2) and lrn:
            x = LocalResponseNormalization(name=f"norm{i}")(x)
    pool5 = x
    x = keras.layers.Flatten(name="flatten")(pool5)
    if average:
        x = keras.layers.Concatenate(name="flatten_and_average")(
            [x, keras.layers.GlobalAveragePooling2D(name="pool5_average")(pool5)])
    return keras.Model(frame, _fully_connected(x, fc_units, dropout, ("fc6", "fc7"), classes), name=name)


def small_vgg(height=32, width=32, channels=3, widths=(8, 16, 24, 32, 32), fc_units=64, dropout=0.3, classes=10,
              batchnorm=True):
    """Five blocks of one 3x3 convolution and 2x2 pooling, fc1, fc2: VGG-16's layer names at a CPU's size."""
    frame = keras.Input((height, width, channels), name="frame")
    x = frame
    for block, filters in enumerate(widths, start=1):
        x = _conv(x, filters, 3, f"block{block}_conv1", batchnorm=batchnorm)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(frame, _fully_connected(x, (fc_units, fc_units), dropout, ("fc1", "fc2"), classes),
                       name="small_vgg")


BACKBONES = {
    "vgg16": vgg16,
    "small-vgg": small_vgg,
    "caffenet": caffenet,
    # LRCN (Donahue et al. 2015, the authors' activity recognition files): conv1 7x7/2, conv2 5x5/2 384 with no
    # padding, conv3-5 512, 512, 384; fc6 with dropout 0.9
    "lrcn-hybrid": functools.partial(caffenet, widths=(96, 384, 512, 512, 384), kernels=(7, 5, 3, 3, 3),
                                     strides=(2, 2, 1, 1, 1), paddings=("valid", "valid", "same", "same", "same"),
                                     dropout=0.9, name="lrcn_hybrid"),
    "small-caffenet": functools.partial(caffenet, widths=(16, 32, 48, 48, 32), kernels=(5, 3, 3, 3, 3),
                                        strides=(1, 1, 1, 1, 1), paddings=("same",) * 5, groups=(1, 1, 1, 1, 1),
                                        fc_units=(128, 128), dropout=0.3, classes=10, batchnorm=True,
                                        name="small_caffenet"),
    # "small-caffenet" for digit-actions' torus (`pipelines.embedded`): every convolution and pooling wraps around
    # the frame's edges, fc6 also sees pool5's global average, batch normalization without LRN
    "small-caffenet-torus": functools.partial(caffenet, widths=(16, 32, 48, 48, 32), kernels=(5, 3, 3, 3, 3),
                                              strides=(1, 1, 1, 1, 1), paddings=("circular",) * 5,
                                              groups=(1, 1, 1, 1, 1), fc_units=(128, 128), dropout=0.3, classes=10,
                                              batchnorm=True, lrn=False, average=True, name="small_caffenet_torus"),
}


def build_backbone(name, height, width, channels=3):
    """Backbone ``name`` (a key of `BACKBONES`) for frames of ``height`` x ``width`` x ``channels``, untrained."""
    if name not in BACKBONES:
        raise ZooError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name](height=height, width=width, channels=channels)


def load_backbone_weights(model, path):
    """Load the weights of ``model`` (a freshly built backbone) from ``path``: a `.keras` file or a `.weights.h5` file
    saved from the same architecture. A missing, unreadable or incompatible file is one clear ZooError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ZooError(f"backbone weights {path!r} not found")
    if not path.endswith(WEIGHT_FILES):
        raise ZooError(f"backbone weights must be a {' or '.join(WEIGHT_FILES)} file, got {path!r}")
    with warnings.catch_warnings(record=True) as caught:  # Keras warns about each part it skips, then raises
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
            skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
            if skipped:  # a partial load is a wrong file too
                raise ValueError(skipped[0])
        except Exception as e:  # Keras raises ValueError, OSError, zipfile / h5py errors ... for a wrong file
            reason = str(e).strip().split("\n")[0].split(". Example")[0] or type(e).__name__
            raise ZooError(f"{path!r} does not hold weights of the backbone {model.name!r}: {reason}") from None
    return model


def segments(model, names, trainable=True, prefix=""):
    """Cut ``model`` after each layer in ``names`` (in order): sub-models from its input to the first, from the first
    to the second, ... sharing the model's layers (and weights), named ``prefix`` + backbone + "_to_" + layer."""
    start, parts = model.input, []
    for name in names:
        try:
            end = model.get_layer(name).output
        except ValueError:
            raise ZooError(f"the backbone {model.name!r} has no layer {name!r}") from None
        part = keras.Model(start, end, name=f"{prefix}{model.name}_to_{name}")
        part.trainable = trainable
        parts.append(part)
        start = end
    return parts


def frame_segments(backbone, frames, names, weights=None, trainable=True, prefix=""):
    """Backbone ``backbone`` built for the frames of ``frames`` ([B, T, H, W, C]), its weights loaded from
    ``weights`` (a path, or None to keep the initialization), cut after the layers ``names`` (`segments`)."""
    model = build_backbone(backbone, *frames.shape[2:])
    if weights is not None:
        load_backbone_weights(model, weights)
    return segments(model, names, trainable, prefix)


def per_frame(x, part, name):
    """Apply a 2-D segment to every frame of [B, T, ...] (`zoo.layers.PerStep`)."""
    return PerStep(part, name=name)(x)
