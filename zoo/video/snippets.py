"""Beyond Short Snippets: Ng, Hausknecht, Vijayanarasimhan, Vinyals, Monga, Toderici, "Beyond Short Snippets: Deep
Networks for Video Classification", CVPR 2015. One CNN (shared weights) looks at every frame; its features are
combined over the whole clip by feature pooling (Sec. 3.1, Figure 2) or by a deep LSTM (Sec. 3.2, Figure 4).

Feature pooling (max-pooling over time everywhere; "conv maps" are the last convolutional layer's, pool5):

- ``snippets-conv-pooling``: max over all frames of the conv maps, then fc6, fc7, softmax.
- ``snippets-late-pooling``: fc6, fc7 on every frame, then max over all frames, softmax.
- ``snippets-slow-pooling``: max over windows of 10 frames with stride 5 of the conv maps, fc6 on each window
  (shared), max over the windows, fc7, softmax.
- ``snippets-local-pooling``: max over the same windows, fc6 and fc7 on each window (shared), all windows
  concatenated into one larger softmax.
- ``snippets-time-conv``: a time-domain convolution over the conv maps (256 kernels of 3x3 across 10 frames with
  frame stride 5; its ReLU is this zoo's choice), max over time, fc6, fc7, softmax. The 256 kernels are as many as
  conv5 has, so that fc6 applies unchanged; with other backbones the layer has as many kernels as their conv5.

Deep LSTM (``snippets-lstm``): five stacked LSTM layers of 512 cells over the per-frame CNN output (fc7 here), a
softmax at every step, and the per-step predictions combined with linearly increasing weights, the combination the
paper found best (`zoo.layers.CombinePredictions`; ``combine`` = "weighted", "max", "mean" or "last" for the other
three it compares). The paper weights the per-step training losses the same way; here the combined prediction is
the model's one output and what the loss sees.

Optical flow (Sec. 4): ``snippets-conv-pooling-flow`` and ``snippets-lstm-flow`` add a second network of the same
kind on flow images (`zoo.layers.FlowImages`, one per frame: the flow field from it to the next frame) and fuse the
two predictions late, ``(1 - flow_weight) p_rgb + flow_weight p_flow`` (``flow_weight`` 0.5 here: the two
streams count equally). Input "rgb+flow": {"rgb": clip [T, H, W, 3], "flow": [H, W, 2T]}.

Backbone: the paper reports AlexNet and GoogLeNet features; keras.applications has neither, and this file uses the
Caffe reference AlexNet ("caffenet" in `backbones.BACKBONES`, 227x227 frames; ImageNet-trained weights are loaded
with ``backbone_weights=PATH``). Clip lengths: 120 frames for feature pooling, 30 for the LSTM (the paper's 1 frame
per second settings), 487 Sports-1M classes. The tiny presets use "small-caffenet" on 32x32 frames, 8 frames and
windows of 4 frames with stride 2; on the embedded data a frozen "small-caffenet-torus" from `zoo pretrain` stands in
for the ImageNet CNN (the global bench's pretrained deep LSTM row).
"""

import keras

from zoo.layers import CombinePredictions, FlowImages
from zoo.registry import register
from zoo.video import backbones

PAPER = "Ng et al. 2015, Beyond Short Snippets: Deep Networks for Video Classification"
TINY = dict(frames=8, height=32, width=32, backbone="small-caffenet")
TINY_WINDOWS = dict(TINY, window=4, window_stride=2)
TINY_LSTM = dict(TINY, lstm_units=64, lstm_layers=2)


def _softmax(x, num_classes, prefix):
    return keras.layers.Dense(num_classes, activation="softmax", name=f"{prefix}softmax", dtype="float32")(x)


def _conv_maps(frames, cuts, backbone, backbone_weights, train_backbone, prefix):
    """Per-frame pool5 maps [B, T, h, w, c] and the backbone's segments after pool5 that end at ``cuts``."""
    to_pool5, *rest = backbones.frame_segments(backbone, frames, ["pool5", *cuts], backbone_weights, train_backbone,
                                               prefix)
    return backbones.per_frame(frames, to_pool5, f"{prefix}cnn_pool5"), rest


def _max_over_time(maps, name):
    """[B, T, h, w, c] -> [B, h, w, c]: the maximum over all steps."""
    pooled = keras.layers.MaxPooling3D((maps.shape[1], 1, 1), name=name)(maps)
    return keras.layers.Reshape(maps.shape[2:], name=f"{name}_squeeze")(pooled)


def _windows(maps, window, stride, name):
    """Max over windows of ``window`` steps every ``stride`` steps: [B, T, h, w, c] -> [B, K, h, w, c]."""
    if maps.shape[1] < window:
        raise ValueError(f"a window of {window} frames needs clips of at least {window} frames, got {maps.shape[1]}")
    return keras.layers.MaxPooling3D((window, 1, 1), strides=(stride, 1, 1), name=name)(maps)


def conv_pooling(frames, num_classes, backbone, backbone_weights, train_backbone, prefix=""):
    maps, (fc,) = _conv_maps(frames, ["fc7_dropout"], backbone, backbone_weights, train_backbone, prefix)
    return _softmax(fc(_max_over_time(maps, f"{prefix}max_over_time")), num_classes, prefix)


def late_pooling(frames, num_classes, backbone, backbone_weights, train_backbone, prefix=""):
    (fc7,) = backbones.frame_segments(backbone, frames, ["fc7_dropout"], backbone_weights, train_backbone, prefix)
    x = backbones.per_frame(frames, fc7, f"{prefix}cnn_fc7")
    return _softmax(keras.layers.GlobalMaxPooling1D(name=f"{prefix}max_over_time")(x), num_classes, prefix)


def slow_pooling(frames, num_classes, window, window_stride, backbone, backbone_weights, train_backbone, prefix=""):
    maps, (fc6, fc7) = _conv_maps(frames, ["fc6_dropout", "fc7_dropout"], backbone, backbone_weights,
                                  train_backbone, prefix)
    x = _windows(maps, window, window_stride, f"{prefix}local_max")
    x = backbones.per_frame(x, fc6, f"{prefix}fc6_per_window")
    x = keras.layers.GlobalMaxPooling1D(name=f"{prefix}max_over_windows")(x)
    return _softmax(fc7(x), num_classes, prefix)


def local_pooling(frames, num_classes, window, window_stride, backbone, backbone_weights, train_backbone, prefix=""):
    maps, (fc,) = _conv_maps(frames, ["fc7_dropout"], backbone, backbone_weights, train_backbone, prefix)
    x = _windows(maps, window, window_stride, f"{prefix}local_max")
    x = backbones.per_frame(x, fc, f"{prefix}fc_per_window")
    return _softmax(keras.layers.Flatten(name=f"{prefix}all_windows")(x), num_classes, prefix)


def time_conv(frames, num_classes, window, window_stride, backbone, backbone_weights, train_backbone, prefix=""):
    maps, (fc,) = _conv_maps(frames, ["fc7_dropout"], backbone, backbone_weights, train_backbone, prefix)
    x = keras.layers.ZeroPadding3D((0, 1, 1), name=f"{prefix}time_conv_pad")(maps)  # "same" in space only
    x = keras.layers.Conv3D(maps.shape[-1], (window, 3, 3), strides=(window_stride, 1, 1), activation="relu",
                            name=f"{prefix}time_conv")(x)
    return _softmax(fc(_max_over_time(x, f"{prefix}max_over_time")), num_classes, prefix)


def deep_lstm(frames, num_classes, lstm_units, lstm_layers, combine, backbone, backbone_weights, train_backbone,
              prefix=""):
    (fc7,) = backbones.frame_segments(backbone, frames, ["fc7_dropout"], backbone_weights, train_backbone, prefix)
    x = backbones.per_frame(frames, fc7, f"{prefix}cnn_fc7")
    for i in range(1, lstm_layers + 1):
        x = keras.layers.LSTM(lstm_units, return_sequences=True, name=f"{prefix}lstm{i}")(x)
    steps = _softmax(x, num_classes, prefix)  # a prediction at every frame
    return CombinePredictions(combine, name=f"{prefix}combine", dtype="float32")(steps)


def _model(head, name, frames, height, width, channels, **kw):
    clip = keras.Input((frames, height, width, channels), name="clip")
    return keras.Model(clip, head(clip, **kw), name=name)


def _two_stream(head, name, frames, height, width, channels, flow_weight, flow_backbone_weights, **kw):
    """The RGB network and the same network on flow images, fused late by a weighted average."""
    rgb = keras.Input((frames, height, width, channels), name="rgb")
    flow = keras.Input((height, width, 2 * frames), name="flow")
    p_rgb = head(rgb, prefix="rgb_", **kw)
    kw["backbone_weights"] = flow_backbone_weights
    p_flow = head(FlowImages(name="flow_images")(flow), prefix="flow_", **kw)
    probs = keras.layers.Add(name="late_fusion", dtype="float32")([
        keras.layers.Rescaling(1.0 - flow_weight, name="rgb_weight", dtype="float32")(p_rgb),
        keras.layers.Rescaling(flow_weight, name="flow_weight", dtype="float32")(p_flow)])
    return keras.Model({"rgb": rgb, "flow": flow}, probs, name=name)


@register("snippets-conv-pooling", paper=f"{PAPER}, Sec. 3.1, Fig. 2 (Conv Pooling)", task="classification",
          input="clip", tiny=TINY)
def snippets_conv_pooling(num_classes=487, frames=120, height=227, width=227, channels=3, backbone="caffenet",
                          backbone_weights=None, train_backbone=True):
    return _model(conv_pooling, "conv_pooling", **locals())


@register("snippets-late-pooling", paper=f"{PAPER}, Sec. 3.1, Fig. 2 (Late Pooling)", task="classification",
          input="clip", tiny=TINY)
def snippets_late_pooling(num_classes=487, frames=120, height=227, width=227, channels=3, backbone="caffenet",
                          backbone_weights=None, train_backbone=True):
    return _model(late_pooling, "late_pooling", **locals())


@register("snippets-slow-pooling", paper=f"{PAPER}, Sec. 3.1, Fig. 2 (Slow Pooling)", task="classification",
          input="clip", tiny=TINY_WINDOWS)
def snippets_slow_pooling(num_classes=487, frames=120, height=227, width=227, channels=3, window=10,
                          window_stride=5, backbone="caffenet", backbone_weights=None, train_backbone=True):
    return _model(slow_pooling, "slow_pooling", **locals())


@register("snippets-local-pooling", paper=f"{PAPER}, Sec. 3.1, Fig. 2 (Local Pooling)", task="classification",
          input="clip", tiny=TINY_WINDOWS)
def snippets_local_pooling(num_classes=487, frames=120, height=227, width=227, channels=3, window=10,
                           window_stride=5, backbone="caffenet", backbone_weights=None, train_backbone=True):
    return _model(local_pooling, "local_pooling", **locals())


@register("snippets-time-conv", paper=f"{PAPER}, Sec. 3.1, Fig. 2 (Time-Domain Convolution)",
          task="classification", input="clip", tiny=TINY_WINDOWS)
def snippets_time_conv(num_classes=487, frames=120, height=227, width=227, channels=3, window=10, window_stride=5,
                       backbone="caffenet", backbone_weights=None, train_backbone=True):
    return _model(time_conv, "time_domain_convolution", **locals())


@register("snippets-lstm", paper=f"{PAPER}, Sec. 3.2, Fig. 4 (deep LSTM)", task="classification", input="clip",
          tiny=TINY_LSTM)
def snippets_lstm(num_classes=487, frames=30, height=227, width=227, channels=3, lstm_units=512, lstm_layers=5,
                  combine="weighted", backbone="caffenet", backbone_weights=None, train_backbone=True):
    return _model(deep_lstm, "deep_lstm", **locals())


@register("snippets-conv-pooling-flow", paper=f"{PAPER}, Sec. 3.1, 4 (Conv Pooling, image + optical flow)",
          task="classification", input="rgb+flow", tiny=TINY, stride=1)
def snippets_conv_pooling_flow(num_classes=487, frames=120, height=227, width=227, channels=3, flow_weight=0.5,
                               backbone="caffenet", backbone_weights=None, flow_backbone_weights=None,
                               train_backbone=True):
    return _two_stream(conv_pooling, "conv_pooling_two_stream", **locals())


@register("snippets-lstm-flow", paper=f"{PAPER}, Sec. 3.2, 4 (deep LSTM, image + optical flow)",
          task="classification", input="rgb+flow", tiny=TINY_LSTM, stride=1)
def snippets_lstm_flow(num_classes=487, frames=30, height=227, width=227, channels=3, lstm_units=512, lstm_layers=5,
                       combine="weighted", flow_weight=0.5, backbone="caffenet", backbone_weights=None,
                       flow_backbone_weights=None, train_backbone=True):
    return _two_stream(deep_lstm, "deep_lstm_two_stream", **locals())
