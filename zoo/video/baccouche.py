"""Baccouche, Mamalet, Wolf, Garcia, Baskurt, "Sequential Deep Learning for Human Action Recognition", Human
Behavior Understanding (HBU) 2011, Sections 3 and 4: a 3D ConvNet learns spatio-temporal features of short windows
of 9 frames, and an LSTM reads the sequence of the windows' features and classifies the whole sequence.

    window of 9 gray frames, 54 x 34 (height x width; the paper's 34 x 54 person boxes)
      C1  7 maps, 7x7x5 kernels    -> 7 @ 5 x 48 x 28          (time x height x width)
      S1  2x2 subsampling          -> 7 @ 5 x 24 x 14
      C2  35 maps, 5x5x3 kernels   -> 35 @ 3 x 20 x 10
      S2  2x2 subsampling          -> 35 @ 3 x 10 x 5
      C3  5 maps, 3x3x3 kernels    -> 5 @ 1 x 8 x 3            (120 values)
      N1  fully connected (the window's feature vector), N2 softmax over the classes (6 for KTH)
    sequence of windows -> LSTM with 50 hidden units -> softmax

Training in two steps, as in the paper (Sec. 4): ``baccouche-3dcnn`` is the 3D ConvNet alone, trained on windows
to classify them; ``baccouche`` puts its layers up to N1 under the LSTM. Give it the trained network with
``backbone_weights=PATH`` (its `.keras` or `.weights.h5`) and ``train_backbone=False`` to train only the LSTM, the
paper's second step; without them both parts train together, end to end.

The layer sizes above are the paper's. This implementation's reading and choices, where the paper's text is not
reproduced here: C2's 35 maps are 5 per C1 map (a grouped convolution, 7 groups: `zoo.layers.GroupedConv3D`);
subsampling is 2x2 max pooling; every layer but the output uses ReLU; N1 has 50 units; a sequence is cut into
consecutive, non-overlapping windows (``windows`` of them: 8 here, 72 frames) and the LSTM's last output is
classified. ``batchnorm=True`` (the tiny presets, on 32 x 32 frames) adds batch normalization after each
convolution.
"""

import keras

from zoo.layers import GroupedConv3D
from zoo.registry import register
from zoo.video import backbones

PAPER = "Baccouche et al. 2011, Sequential Deep Learning for Human Action Recognition"
WINDOW = 9  # frames per window
TINY_CNN = dict(height=32, width=32, batchnorm=True)


def _conv(x, filters, kernel, name, batchnorm, groups=1):
    x = GroupedConv3D(filters, kernel, groups=groups, use_bias=not batchnorm, name=name)(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


@register("baccouche-3dcnn", paper=f"{PAPER}, Sec. 3.1 (the 3D ConvNet on 9-frame windows: step 1)",
          task="classification", input="clip", tiny=TINY_CNN)
def baccouche_3dcnn(num_classes=6, height=54, width=34, channels=1, maps=(7, 35, 5), features=50, batchnorm=False):
    window = keras.Input((WINDOW, height, width, channels), name="clip")
    x = _conv(window, maps[0], (5, 7, 7), "c1", batchnorm)
    x = keras.layers.MaxPooling3D((1, 2, 2), name="s1")(x)
    x = _conv(x, maps[1], (3, 5, 5), "c2", batchnorm, groups=maps[0])  # maps[1] // maps[0] maps per C1 map
    x = keras.layers.MaxPooling3D((1, 2, 2), name="s2")(x)
    x = _conv(x, maps[2], (3, 3, 3), "c3", batchnorm)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(features, activation="relu", name="n1")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="n2", dtype="float32")(x)
    return keras.Model(window, probs, name="baccouche_3dcnn")


@register("baccouche", paper=f"{PAPER}, Sec. 3 (3D ConvNet features, LSTM over the windows)",
          task="classification", input="clip", tiny=dict(TINY_CNN, windows=3))
def baccouche(num_classes=6, windows=8, height=54, width=34, channels=1, maps=(7, 35, 5), features=50,
              lstm_units=50, batchnorm=False, backbone_weights=None, train_backbone=True):
    """``backbone_weights``: a trained ``baccouche-3dcnn`` of the same arguments (its file)."""
    cnn = baccouche_3dcnn(num_classes, height, width, channels, maps, features, batchnorm)
    if backbone_weights is not None:
        backbones.load_backbone_weights(cnn, backbone_weights)
    (window_features,) = backbones.segments(cnn, ["n1"], trainable=train_backbone)
    clip = keras.Input((windows * WINDOW, height, width, channels), name="clip")
    x = keras.layers.Reshape((windows, WINDOW, height, width, channels), name="windows")(clip)
    x = backbones.per_frame(x, window_features, "window_features")  # every window
    x = keras.layers.LSTM(lstm_units, name="lstm")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="softmax", dtype="float32")(x)
    return keras.Model(clip, probs, name="baccouche")
