"""LRCN: Donahue, Hendricks, Guadarrama, Rohrbach, Venugopalan, Saenko, Darrell, "Long-term Recurrent Convolutional
Networks for Visual Recognition and Description", CVPR 2015, Section 4 (activity recognition, Figure 3), the
variant with the LSTM on fc6 (LRCN-fc6, Table 1).

    16 frames --CNN (per frame, shared) up to fc6--> LSTM (256) --dropout, linear + softmax per step--> average

- CNN (Sec. 4, the authors' released files): a hybrid of the CaffeNet reference model and Zeiler & Fergus' network,
  227x227 input: conv1 7x7/2 96, pool 3x3/2, LRN | conv2 5x5/2 384 (2 groups), pool, LRN | conv3 3x3 512 |
  conv4 3x3 512 (2 groups) | conv5 3x3 384 (2 groups), pool | fc6 4096, dropout 0.9. Pre-trained on ImageNet in
  the paper: ``backbone_weights=PATH`` loads a trained "lrcn-hybrid" backbone (`backbones.BACKBONES`); the CNN
  trains with the LSTM (``train_backbone``).
- LSTM with 256 hidden units over fc6, dropout 0.5, a softmax at every step; the clip's prediction is the average of
  the per-step predictions (Sec. 4). The paper trains on the per-step losses; here the averaged prediction is the
  model's one output and what the loss sees.
- ``lrcn-flow``: the same network on flow images (`zoo.layers.FlowImages`: x, y and magnitude; Sec. 4) of 16
  consecutive flow fields, input "flow" [H, W, 32]. The paper fuses the RGB and flow networks' predictions by a
  weighted average (1/3 RGB, 2/3 flow in Table 1) after training them separately; `zoo bench accuracy --family
  global` reports that fusion (`zoo.training.benchmark.GLOBAL_FUSED`).

The tiny presets use a CPU-sized tower of the same family ("small-caffenet": 5x5 then 3x3 convolutions at stride 1,
no groups, batch normalization) on 32x32 frames. In place of the ImageNet CNN on the embedded data: a
"small-caffenet-torus" trained by `zoo pretrain` (`zoo.training.pretrain`), loaded with ``backbone_weights`` and
frozen (``train_backbone=False``), as the global bench's pretrained row does.
"""

import keras

from zoo.layers import FlowImages
from zoo.registry import register
from zoo.video import backbones

PAPER = "Donahue et al. 2015, Long-term Recurrent Convolutional Networks for Visual Recognition and Description"
TINY = dict(height=32, width=32, lstm_units=64, backbone="small-caffenet")


def lrcn_head(frames, num_classes, lstm_units, dropout, backbone, backbone_weights, train_backbone):
    """Per-frame CNN up to fc6 (after its dropout), LSTM, per-step softmax, average over the steps."""
    (fc6,) = backbones.frame_segments(backbone, frames, ["fc6_dropout"], backbone_weights, train_backbone)
    x = backbones.per_frame(frames, fc6, "cnn_fc6")
    x = keras.layers.LSTM(lstm_units, return_sequences=True, name="lstm1")(x)
    x = keras.layers.Dropout(dropout, name="lstm1_dropout")(x)
    steps = keras.layers.Dense(num_classes, activation="softmax", name="fc8_final", dtype="float32")(x)
    return keras.layers.GlobalAveragePooling1D(name="average_over_steps", dtype="float32")(steps)


@register("lrcn", paper=f"{PAPER}, Sec. 4, Fig. 3 (LRCN-fc6, RGB)", task="classification", input="clip", tiny=TINY)
def lrcn(num_classes=101, frames=16, height=227, width=227, channels=3, lstm_units=256, dropout=0.5,
         backbone="lrcn-hybrid", backbone_weights=None, train_backbone=True):
    clip = keras.Input((frames, height, width, channels), name="clip")
    probs = lrcn_head(clip, num_classes, lstm_units, dropout, backbone, backbone_weights, train_backbone)
    return keras.Model(clip, probs, name="lrcn")


@register("lrcn-flow", paper=f"{PAPER}, Sec. 4, Fig. 3 (LRCN-fc6, flow)", task="classification", input="flow",
          tiny=TINY, stride=1)
def lrcn_flow(num_classes=101, frames=16, height=227, width=227, lstm_units=256, dropout=0.5,
              backbone="lrcn-hybrid", backbone_weights=None, train_backbone=True):
    flow = keras.Input((height, width, 2 * frames), name="flow")
    images = FlowImages(name="flow_images")(flow)
    probs = lrcn_head(images, num_classes, lstm_units, dropout, backbone, backbone_weights, train_backbone)
    return keras.Model(flow, probs, name="lrcn_flow")
