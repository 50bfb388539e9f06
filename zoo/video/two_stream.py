"""Simonyan & Zisserman, "Two-Stream Convolutional Networks for Action Recognition in Videos", NIPS 2014.

Both streams are the CNN-M-2048 network of Figure 1 (Chatfield et al. 2014's CNN-M with a 2048-unit full7):

    conv1 7x7x96 stride 2, norm, pool 2x2 | conv2 5x5x256 stride 2, norm, pool 2x2 | conv3 3x3x512 |
    conv4 3x3x512 | conv5 3x3x512, pool 2x2 | full6 4096, dropout | full7 2048, dropout | softmax

- Spatial stream (Sec. 2): one RGB frame, 224x224x3.
- Temporal stream (Sec. 3.1): L=10 stacked optical flow fields, x and y interleaved in 2L = 20 channels, with the
  mean flow subtracted (Sec. 3.3, done by the data pipeline); its conv2 has no normalization (Sec. 5: "to reduce
  memory consumption").
- Fusion (Sec. 6, Table 3): averaging the two softmax outputs, or a linear SVM on the stacked, L2-normalised softmax
  scores. The streams train separately; `fuse` then joins two trained streams into one model (and one SavedModel)
  that takes RGB and flow.

Padding follows CNN-M (conv1 none, conv2 1, conv3-5 1): 224 -> 109 -> 54 -> 26 -> 13 -> 6, so full6 sees
6x6x512 = 18,432 values. Dropout: 0.5 in the spatial stream and 0.9 in the temporal one (the settings of Table 1).
"""

import keras

from zoo.layers import LocalResponseNormalization
from zoo.registry import register

PAPER = "Simonyan & Zisserman 2014, Two-Stream Convolutional Networks for Action Recognition in Videos"
TINY = dict(height=32, width=32, widths=(16, 32, 48, 48, 48), first_kernel=5, first_stride=1, fc_units=(128, 64),
            batchnorm=True)


def cnn_m_2048(x, widths, first_kernel, first_stride, fc_units, dropout, norm2, batchnorm, prefix):
    """CNN-M-2048 from its input tensor to its softmax output; layers named ``prefix`` + the paper's names."""
    specs = [  # (kernel, stride, padding, normalize, pool)
        (first_kernel, first_stride, 0, True, True), (5, 2, 1, norm2, True), (3, 1, 1, False, False),
        (3, 1, 1, False, False), (3, 1, 1, False, True)]
    if first_stride == 1:  # CPU-sized variant: keep small inputs from shrinking to nothing
        specs[0] = (first_kernel, 1, first_kernel // 2, True, True)
        specs[1] = (5, 1, 2, norm2, True)
    for i, ((kernel, stride, pad, normalize, pool), units) in enumerate(zip(specs, widths), start=1):
        if pad:
            x = keras.layers.ZeroPadding2D(pad, name=f"{prefix}pad{i}")(x)
        x = keras.layers.Conv2D(units, kernel, strides=stride, use_bias=not batchnorm,
                                kernel_initializer="he_normal", name=f"{prefix}conv{i}")(x)
        if batchnorm:
            x = keras.layers.BatchNormalization(synchronized=True, name=f"{prefix}conv{i}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{prefix}conv{i}_relu")(x)
        if normalize:
            x = LocalResponseNormalization(name=f"{prefix}norm{i}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, name=f"{prefix}pool{i}")(x)
    x = keras.layers.Flatten(name=f"{prefix}flatten")(x)
    for name, units in zip(("full6", "full7"), fc_units):
        x = keras.layers.Dense(units, activation="relu", name=f"{prefix}{name}")(x)
        x = keras.layers.Dropout(dropout, name=f"{prefix}{name}_dropout")(x)
    return x


def _stream(inputs, x, num_classes, name, **kw):
    x = cnn_m_2048(x, prefix="", **kw)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="softmax", dtype="float32")(x)
    return keras.Model(inputs, probs, name=name)


@register("two-stream-spatial", paper=f"{PAPER}, Sec. 2, Fig. 1 (spatial stream)", task="classification",
          input="frame", tiny=TINY)
def spatial_stream(num_classes=101, height=224, width=224, channels=3, widths=(96, 256, 512, 512, 512),
                   first_kernel=7, first_stride=2, fc_units=(4096, 2048), dropout=0.5, batchnorm=False):
    frame = keras.Input((height, width, channels), name="frame")
    return _stream(frame, frame, num_classes, "spatial_stream", widths=widths, first_kernel=first_kernel,
                   first_stride=first_stride, fc_units=fc_units, dropout=dropout, norm2=True, batchnorm=batchnorm)


@register("two-stream-temporal", paper=f"{PAPER}, Sec. 3, Fig. 1 (temporal stream)", task="classification",
          input="flow", tiny=dict(TINY, dropout=0.5), stride=1)
def temporal_stream(num_classes=101, height=224, width=224, flow_frames=10, widths=(96, 256, 512, 512, 512),
                    first_kernel=7, first_stride=2, fc_units=(4096, 2048), dropout=0.9, batchnorm=False):
    flow = keras.Input((height, width, 2 * flow_frames), name="flow")
    return _stream(flow, flow, num_classes, "temporal_stream", widths=widths, first_kernel=first_kernel,
                   first_stride=first_stride, fc_units=fc_units, dropout=dropout, norm2=False, batchnorm=batchnorm)


def fuse(spatial, temporal, fusion="average", svm=None):
    """One model taking {"rgb", "flow"} from two (trained) streams. ``fusion``: "average" of the softmax outputs,
    or "svm": a linear SVM on the stacked L2-normalised softmax scores, ``svm`` = (weights [2C, C], bias [C]) as
    fitted by `zoo.training.fusion`; its scores go through a softmax so the model still outputs a distribution."""
    if fusion not in ("average", "svm"):
        raise ValueError(f"fusion must be 'average' or 'svm', got {fusion!r}")
    rgb = keras.Input(spatial.inputs[0].shape[1:], name="rgb")
    flow = keras.Input(temporal.inputs[0].shape[1:], name="flow")
    p_rgb, p_flow = spatial(rgb), temporal(flow)
    if fusion == "average":
        probs = keras.layers.Average(name="average_fusion", dtype="float32")([p_rgb, p_flow])
    else:
        x = keras.layers.Concatenate(name="stacked_scores")([
            keras.layers.UnitNormalization(name="l2_rgb")(p_rgb), keras.layers.UnitNormalization(name="l2_flow")(p_flow)])
        num_classes = spatial.outputs[0].shape[-1]
        svm_layer = keras.layers.Dense(num_classes, activation="softmax", name="svm_fusion", dtype="float32")
        probs = svm_layer(x)
        if svm is not None:
            svm_layer.set_weights(list(svm))
    return keras.Model({"rgb": rgb, "flow": flow}, probs, name="two_stream")


@register("two-stream", paper=f"{PAPER}, Sec. 6, Table 3 (fusion by averaging or SVM)", task="classification",
          input="rgb+flow", tiny=dict(TINY, dropout=0.5), stride=1)
def two_stream(num_classes=101, height=224, width=224, flow_frames=10, widths=(96, 256, 512, 512, 512),
               first_kernel=7, first_stride=2, fc_units=(4096, 2048), dropout=0.9, fusion="average",
               batchnorm=False, spatial_dropout=0.5):
    """Both streams, freshly initialized, joined by ``fusion`` (``dropout`` is the temporal stream's, 0.9 in the
    paper, ``spatial_dropout`` the spatial stream's, 0.5). To fuse trained streams use `fuse` (``zoo fuse``)."""
    kw = dict(num_classes=num_classes, height=height, width=width, widths=widths, first_kernel=first_kernel,
              first_stride=first_stride, fc_units=fc_units, batchnorm=batchnorm)
    return fuse(spatial_stream(**kw, dropout=spatial_dropout), temporal_stream(**kw, flow_frames=flow_frames, dropout=dropout),
                fusion)
