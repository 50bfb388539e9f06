"""Karpathy, Toderici, Shetty, Leung, Sukthankar, Fei-Fei, "Large-scale Video Classification with Convolutional
Neural Networks", CVPR 2014: the time-information fusion models of Section 3.1 (Figure 1) and the multiresolution
CNN of Section 3.2 (Figure 2).

Base network (Sec. 3.1): C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096)-softmax,
where C(d,f,s) is a convolution with d filters of f x f at stride s, N local response normalization, P
non-overlapping 2x2 max pooling; all ReLU. The paper does not give the padding; "same" padding everywhere is the
choice that makes its Sec. 3.2 statement hold: a full 170x170 frame and an 89x89 fovea/context stream (whose last
pooling layer is removed) both end in a 7x7x256 map.

- single-frame: the base network on one frame.
- early-fusion: the first layer's filters extend over T=10 frames (11x11x3x10): frames are stacked in channels.
- late-fusion: two single-frame towers with shared weights on frames 15 apart, merged by the first FC layer.
- slow-fusion: conv1 with temporal extent 4 and stride 2 on 10 frames (4 responses), conv2 and conv3 with temporal
  extent 2 and stride 2, so conv3 sees all 10 frames; then the 2-D rest of the base network.
- multiresolution: a fovea stream on the centre 89x89 crop and a context stream on the frame downsampled to half
  (178 -> 89), both the base network without its last pooling layer, concatenated into FC(4096). ``streams`` selects
  "fovea" and/or "context" (the paper's fovea-only and context-only ablations).

The tiny late-fusion preset puts its two frames 8 apart (15 in the paper): digit-actions moves 1-2 px, 10-20 degrees
per frame on a 32 px torus, so 15 frames alias (a full turn, a wrap-around) while 4 are too few for 4x4 conv5 maps
(measured, 12 epochs: gap 2 0.16, gap 4 0.11, gap 8 0.34 validation accuracy).

Not in the paper: ``batchnorm=True`` adds batch normalization after each convolution (the tiny presets use it, as the
tiny C3D does, so the small networks trained from scratch on a CPU budget do not stall at chance).
"""

import keras

from zoo.layers import LocalResponseNormalization
from zoo.registry import register

PAPER = "Karpathy et al. 2014, Large-scale Video Classification with CNNs"
TINY = dict(widths=(16, 32, 48, 48, 32), first_kernel=5, first_stride=1, fc_units=128, dropout=0.3, batchnorm=True)


def _conv(x, filters, kernel, stride, name, batchnorm, rank=2, padding="same"):
    conv = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    x = conv(filters, kernel, strides=stride, padding=padding, use_bias=not batchnorm,
             kernel_initializer="he_normal", name=name)(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _pad_space_same(x, kernel, stride, name):
    """Zero padding of a [T, H, W, C] map so that a "valid" 3-D convolution is "same" in space, "valid" in time."""
    pads = []
    for n in x.shape[2:4]:
        out = -(-n // stride)
        total = max((out - 1) * stride + kernel - n, 0)
        pads.append((total // 2, total - total // 2))
    return keras.layers.ZeroPadding3D(((0, 0), *pads), name=name)(x)


def _tower(x, widths, first_kernel, first_stride, batchnorm, start=1, last_pool=True, prefix=""):
    """Layers ``start``..5 of the base network (conv1 N P conv2 N P conv3 conv4 conv5 P) on a 2-D map."""
    kernels = {1: first_kernel, 2: 5, 3: 3, 4: 3, 5: 3}
    for i in range(start, 6):
        x = _conv(x, widths[i - 1], kernels[i], first_stride if i == 1 else 1, f"{prefix}conv{i}", batchnorm)
        if i in (1, 2):
            x = LocalResponseNormalization(name=f"{prefix}norm{i}")(x)
        if i in (1, 2) or (i == 5 and last_pool):
            x = keras.layers.MaxPooling2D(2, name=f"{prefix}pool{i}")(x)
    return x


def _classifier(x, num_classes, fc_units, dropout):
    x = keras.layers.Flatten(name="flatten")(x)
    for name in ("fc6", "fc7"):
        x = keras.layers.Dense(fc_units, activation="relu", name=name)(x)
        x = keras.layers.Dropout(dropout, name=f"drop{name[2]}")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name="fc8", dtype="float32")(x)


@register("single-frame", paper=f"{PAPER}, Sec. 3.1, Fig. 1 (single frame)", task="classification", input="frame",
          tiny=dict(height=32, width=32, **TINY))
def single_frame(num_classes=487, height=170, width=170, channels=3, widths=(96, 256, 384, 384, 256),
                 first_kernel=11, first_stride=3, fc_units=4096, dropout=0.5, batchnorm=False):
    frame = keras.Input((height, width, channels), name="frame")
    x = _tower(frame, widths, first_kernel, first_stride, batchnorm)
    return keras.Model(frame, _classifier(x, num_classes, fc_units, dropout), name="single_frame")


@register("early-fusion", paper=f"{PAPER}, Sec. 3.1, Fig. 1 (early fusion)", task="classification", input="clip",
          tiny=dict(height=32, width=32, **TINY))
def early_fusion(num_classes=487, frames=10, height=170, width=170, channels=3, widths=(96, 256, 384, 384, 256),
                 first_kernel=11, first_stride=3, fc_units=4096, dropout=0.5, batchnorm=False):
    clip = keras.Input((frames, height, width, channels), name="clip")
    # A conv1 filter of 11x11x3xT over the whole clip is a 2-D filter over the T frames stacked in channels.
    x = keras.layers.Permute((2, 3, 1, 4), name="time_to_channels")(clip)
    x = keras.layers.Reshape((height, width, frames * channels), name="stack_frames")(x)
    x = _tower(x, widths, first_kernel, first_stride, batchnorm)
    return keras.Model(clip, _classifier(x, num_classes, fc_units, dropout), name="early_fusion")


@register("late-fusion", paper=f"{PAPER}, Sec. 3.1, Fig. 1 (late fusion)", task="classification", input="clip",
          tiny=dict(height=32, width=32, frame_gap=8, **TINY), stride="frame_gap")
def late_fusion(num_classes=487, frame_gap=15, height=170, width=170, channels=3, widths=(96, 256, 384, 384, 256),
                first_kernel=11, first_stride=3, fc_units=4096, dropout=0.5, batchnorm=False):
    """Input: the two frames ``frame_gap`` apart, as a clip of 2 (the data pipeline uses stride ``frame_gap``)."""
    frame = keras.Input((height, width, channels), name="frame")
    tower = keras.Model(frame, _tower(frame, widths, first_kernel, first_stride, batchnorm), name="tower")
    clip = keras.Input((2, height, width, channels), name="clip")
    x = keras.layers.TimeDistributed(tower, name="shared_towers")(clip)  # shared weights on both frames
    return keras.Model(clip, _classifier(x, num_classes, fc_units, dropout), name="late_fusion")


@register("slow-fusion", paper=f"{PAPER}, Sec. 3.1, Fig. 1 (slow fusion)", task="classification", input="clip",
          tiny=dict(height=32, width=32, **TINY))
def slow_fusion(num_classes=487, frames=10, height=170, width=170, channels=3, widths=(96, 256, 384, 384, 256),
                first_kernel=11, first_stride=3, temporal=((4, 2), (2, 2), (2, 2)), fc_units=4096, dropout=0.5,
                batchnorm=False):
    """``temporal``: (extent, stride) in time of conv1, conv2 and conv3 ("valid" in time, "same" in space)."""
    clip = keras.Input((frames, height, width, channels), name="clip")
    x = clip
    for i, ((extent, step), kernel) in enumerate(zip(temporal, (first_kernel, 5, 3)), start=1):
        stride = first_stride if i == 1 else 1
        x = _pad_space_same(x, kernel, stride, f"pad{i}")
        x = _conv(x, widths[i - 1], (extent, kernel, kernel), (step, stride, stride), f"conv{i}", batchnorm, rank=3,
                  padding="valid")
        if i in (1, 2):
            x = LocalResponseNormalization(name=f"norm{i}")(x)
            x = keras.layers.MaxPooling3D((1, 2, 2), name=f"pool{i}")(x)
    if x.shape[1] != 1:
        raise ValueError(f"slow fusion must fuse all {frames} frames by conv3; {x.shape[1]} steps are left")
    x = keras.layers.Reshape(tuple(x.shape[2:]), name="drop_time")(x)
    x = _tower(x, widths, first_kernel, first_stride, batchnorm, start=4)
    return keras.Model(clip, _classifier(x, num_classes, fc_units, dropout), name="slow_fusion")


@register("multiresolution", paper=f"{PAPER}, Sec. 3.2, Fig. 2 (multiresolution CNN)", task="classification",
          input="frame", tiny=dict(height=32, width=32, **TINY))
def multiresolution(num_classes=487, height=178, width=178, channels=3, widths=(96, 256, 384, 384, 256),
                    first_kernel=11, first_stride=3, fc_units=4096, dropout=0.5, streams=("fovea", "context"),
                    batchnorm=False):
    if not streams or set(streams) - {"fovea", "context"}:
        raise ValueError(f"streams must be a non-empty subset of ('fovea', 'context'), got {streams}")
    frame = keras.Input((height, width, channels), name="frame")
    half = (height // 2, width // 2)
    views = {"fovea": keras.layers.CenterCrop(*half, name="fovea_crop")(frame),
             # half resolution by 2x2 averaging: area interpolation, in an op that XLA compiles (float16 on CPUs)
             "context": keras.layers.AveragePooling2D(2, name="context_downsample")(frame)}
    features = [_tower(views[s], widths, first_kernel, first_stride, batchnorm, last_pool=False, prefix=f"{s}_")
                for s in streams]
    x = features[0] if len(features) == 1 else keras.layers.Concatenate(name="merge_streams")(
        [keras.layers.Flatten(name=f"{s}_flatten")(f) for s, f in zip(streams, features)])
    return keras.Model(frame, _classifier(x, num_classes, fc_units, dropout), name="multiresolution")
