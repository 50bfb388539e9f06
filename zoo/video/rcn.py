"""GRU-RCN: Ballas, Yao, Pal, Courville, "Delving Deeper into Convolutional Networks for Learning Video
Representations", ICLR 2016, Sections 3 and 4.1 (Figure 2), with the ConvGRU of Sec. 3.1 (`zoo.layers.ConvGRU2D`).

    frames --VGG-16 (per frame)--> percepts x^1..x^5 --one recurrent convolutional network per level--> h^1_T..h^5_T
           --average pooling to 1x1, dropout, linear + softmax per level--> 5 predictions --average--> p(class)

- Percepts (Sec. 4.1): VGG-16's pool2, pool3, pool4, pool5 maps (56x56x128, 28x28x256, 14x14x512, 7x7x512 for
  224x224 frames) and fc-7 (4096 values, a 1x1 map); Keras names them block2_pool ... block5_pool and fc2. The
  VGG-16 is the ImageNet network fine-tuned on the action frames: pass it with ``backbone_weights=PATH``; its
  percepts are inputs of the RCN, which does not train it (``train_backbone=False``).
- RCN hidden maps per level: 64, 128, 256, 256, 512, 3x3 convolution kernels (Sec. 4.1). On the 1x1 fc-7 level the
  kernel is 1x1 (a 3x3 kernel on a 1x1 map would only add weights that never see data): a plain GRU.
- Classifiers (Sec. 4.1): the last hidden state of each level is average-pooled to 1x1 and fed to its own linear
  softmax classifier, after dropout 0.7; the five predictions are averaged. Clips of 10 frames (Sec. 4.1).

Variants (Table 1):

- ``gru-rcn``: independent levels.
- ``gru-rcn-stacked`` (Sec. 3.2): bottom-up connections; level l also gets h^{l-1}_t, max-pooled to its size, in
  its update and reset gates (`ConvGRU2D(bottom_up=...)`).
- ``gru-rcn-bidirectional``: a forward and a backward GRU-RCN per level; the classifier sees their last hidden maps
  concatenated (how the two directions are joined is this zoo's choice).
- ``convlstm-rcn``: the same design with `keras.layers.ConvLSTM2D` (Shi et al. 2015) in place of the ConvGRU.

The paper writes the GRU without biases; the layers here have one per gate (``use_bias``, as Keras' recurrent
layers). The tiny presets put a CPU-sized VGG (`backbones.small_vgg`, VGG-16's layer names) on 32x32 frames and
train it with the RCN from scratch, with 64 hidden maps per level (the paper's first level's width). In the global
bench's budget on digit-actions, 16 maps per level reached 0.61 video hit@1 (8 frames 4 apart), 32 maps 0.68 and 64
maps 0.91 (8 frames 2 apart).
"""

import keras

from zoo.layers import ConvGRU2D, PerStep
from zoo.registry import register
from zoo.video import backbones

PAPER = "Ballas et al. 2016, Delving Deeper into Convolutional Networks for Learning Video Representations"
LEVELS = ("block2_pool", "block3_pool", "block4_pool", "block5_pool", "fc2")  # pool2..pool5, fc-7
TINY = dict(frames=8, height=32, width=32, hidden=(64, 64, 64, 64, 64), dropout=0.3, backbone="small-vgg",
            train_backbone=True)


def percepts(clip, backbone, backbone_weights, train_backbone):
    """The five percept sequences [B, T, h, w, c] of a clip (fc-7 as a 1x1 map)."""
    x, out = clip, []
    for level, part in zip(LEVELS, backbones.frame_segments(backbone, clip, LEVELS, backbone_weights,
                                                            train_backbone)):
        x = backbones.per_frame(x, part, f"percept_{level}")
        out.append(x)
    out[-1] = keras.layers.Reshape((clip.shape[1], 1, 1, out[-1].shape[-1]), name="fc7_as_map")(out[-1])
    return out


def _recurrent(kind, filters, kernel, name, **kw):
    if kind == "gru":
        return ConvGRU2D(filters, kernel, name=name, **kw)
    return keras.layers.ConvLSTM2D(filters, kernel, padding="same", name=name, **kw)


def _kernel(x, kernel_size):
    return kernel_size if max(x.shape[2:4]) > 1 else 1


def rcn(clip, xs, num_classes, hidden, kernel_size, dropout, unroll, kind="gru", variant="plain"):
    """The recurrent levels on percepts ``xs`` and the averaged per-level classifiers; returns the model."""
    if len(hidden) != len(xs):
        raise ValueError(f"hidden gives {len(hidden)} sizes for {len(xs)} percept levels")
    states, below = [], None
    for i, (x, filters) in enumerate(zip(xs, hidden), start=1):
        kernel, name = _kernel(x, kernel_size), f"rcn{i}"
        if variant == "stacked":
            bottom_up = 0
            if below is not None:  # h^{l-1}_t, max-pooled to this level's size, joins the input (gates only)
                pool = (below.shape[2] // x.shape[2], below.shape[3] // x.shape[3])
                pooled = PerStep(keras.layers.MaxPooling2D(pool), name=f"{name}_below")(below)
                x = keras.layers.Concatenate(name=f"{name}_input")([x, pooled])
                bottom_up = pooled.shape[-1]
            sequence, last = ConvGRU2D(filters, kernel, bottom_up=bottom_up, return_sequences=i < len(xs),
                                       return_state=True, unroll=unroll, name=name)(x)
            states.append(last)
            below = sequence
        elif variant == "bidirectional":
            layer = _recurrent(kind, filters, kernel, f"{name}_cell", unroll=unroll)
            states.append(keras.layers.Bidirectional(layer, name=name)(x))
        else:
            states.append(_recurrent(kind, filters, kernel, name, unroll=unroll)(x))
    predictions = []
    for i, h in enumerate(states, start=1):
        h = keras.layers.GlobalAveragePooling2D(name=f"level{i}_average")(h)
        h = keras.layers.Dropout(dropout, name=f"level{i}_dropout")(h)
        predictions.append(keras.layers.Dense(num_classes, activation="softmax", name=f"level{i}_softmax",
                                              dtype="float32")(h))
    probs = keras.layers.Average(name="average", dtype="float32")(predictions)
    return keras.Model(clip, probs, name=f"{kind}_rcn" + ("" if variant == "plain" else f"_{variant}"))


def _build(num_classes, frames, height, width, channels, hidden, kernel_size, dropout, backbone, backbone_weights,
           train_backbone, unroll, **kind):
    clip = keras.Input((frames, height, width, channels), name="clip")
    xs = percepts(clip, backbone, backbone_weights, train_backbone)
    return rcn(clip, xs, num_classes, hidden, kernel_size, dropout, unroll, **kind)


@register("gru-rcn", paper=f"{PAPER}, Sec. 3.1, 4.1, Fig. 2 (GRU-RCN)", task="classification", input="clip",
          tiny=TINY)
def gru_rcn(num_classes=101, frames=10, height=224, width=224, channels=3, hidden=(64, 128, 256, 256, 512),
            kernel_size=3, dropout=0.7, backbone="vgg16", backbone_weights=None, train_backbone=False,
            unroll=False):
    return _build(**locals())


@register("gru-rcn-stacked", paper=f"{PAPER}, Sec. 3.2, 4.1 (Stacked GRU-RCN)", task="classification",
          input="clip", tiny=TINY)
def gru_rcn_stacked(num_classes=101, frames=10, height=224, width=224, channels=3, hidden=(64, 128, 256, 256, 512),
                    kernel_size=3, dropout=0.7, backbone="vgg16", backbone_weights=None, train_backbone=False,
                    unroll=False):
    return _build(**locals(), variant="stacked")


@register("gru-rcn-bidirectional", paper=f"{PAPER}, Sec. 4.1 (Bi-directional GRU-RCN)", task="classification",
          input="clip", tiny=TINY)
def gru_rcn_bidirectional(num_classes=101, frames=10, height=224, width=224, channels=3,
                          hidden=(64, 128, 256, 256, 512), kernel_size=3, dropout=0.7, backbone="vgg16",
                          backbone_weights=None, train_backbone=False, unroll=False):
    return _build(**locals(), variant="bidirectional")


@register("convlstm-rcn", paper=f"{PAPER}, Sec. 4.1, with ConvLSTM2D units (Shi et al. 2015)",
          task="classification", input="clip", tiny=TINY)
def convlstm_rcn(num_classes=101, frames=10, height=224, width=224, channels=3, hidden=(64, 128, 256, 256, 512),
                 kernel_size=3, dropout=0.7, backbone="vgg16", backbone_weights=None, train_backbone=False,
                 unroll=False):
    return _build(**locals(), kind="lstm")
