"""Ji, Xu, Yang, Yu, "3D Convolutional Neural Networks for Human Action Recognition", ICML 2010 (TPAMI 2013),
Section 3.1 and Figure 3.

    input 7 x 60x40 frames
    H1  hardwired: gray (7), gradient-x (7), gradient-y (7), optflow-x (6), optflow-y (6) = 33 maps, 5 channels
    C2  per channel, 3-D convolution 7x7x3 with 2 kernel sets          -> 2 x 23 maps of 54x34   (1,480 parameters)
    S3  2x2 subsampling, trainable coefficient and bias per map        -> 2 x 23 maps of 27x17   (92)
    C4  per channel and set, 3-D convolution 7x6x3 with 3 kernels      -> 6 x 13 maps of 21x12   (3,810)
    S5  3x3 subsampling                                                -> 78 maps of 7x4         (156)
    C6  7x4 convolution, each of 128 maps connected to all 78 maps     -> 128 maps of 1x1
    output: fully connected to the action classes (3 in the paper's TRECVID experiments)

The five channels stay separate up to S5, as in the paper; C2, S3, C4 and S5 reproduce its parameter counts
exactly. The paper counts C6 as 289,536 = 128 x 78 x (28 + 1), i.e. one bias per (input map, output map) pair; those
78 biases per output map add up to a single one, so here C6 has one bias per output map: 128 x (78 x 28 + 1) =
279,680, and the output layer has biases (387). Total 285,605 (the paper: 295,458). Activations are tanh, as in the
LeNet-style networks the paper builds on.
"""

import keras

from zoo.layers import HardwiredFeatures, Subsampling
from zoo.registry import register

CHANNELS = ("gray", "grad_x", "grad_y", "flow_x", "flow_y")


@register(
    "ji-3dcnn",
    paper="Ji et al. 2010, 3D Convolutional Neural Networks for Human Action Recognition, Sec. 3.1, Fig. 3",
    task="classification",
    input="clip",
    tiny=dict(height=32, width=32, c2_kernel=(5, 5), c4_kernel=(5, 5), s5=2, c6_units=64),
)
def ji_3dcnn(num_classes=3, frames=7, height=60, width=40, channels=3, c2_kernel=(7, 7), c4_kernel=(7, 6),
             s3=2, s5=3, sets=(2, 3), c6_units=128, flow_window=5):
    clip = keras.Input((frames, height, width, channels), name="clip")
    maps = HardwiredFeatures(flow_window, name="h1_hardwired")(clip)
    branches = []
    for name, x in zip(CHANNELS, maps):
        for i in range(sets[0]):  # C2: `sets[0]` different kernels at each location of this channel
            y = keras.layers.Conv3D(1, (3, *c2_kernel), activation="tanh", name=f"c2_{name}_{i}")(x)
            y = keras.layers.Activation("tanh", name=f"s3_{name}_{i}_tanh")(Subsampling(s3, name=f"s3_{name}_{i}")(y))
            # C4: each C2 set convolved separately with `sets[1]` kernels
            y = keras.layers.Conv3D(sets[1], (3, *c4_kernel), activation="tanh", name=f"c4_{name}_{i}")(y)
            y = keras.layers.Activation("tanh", name=f"s5_{name}_{i}_tanh")(Subsampling(s5, name=f"s5_{name}_{i}")(y))
            branches.append(keras.layers.Flatten(name=f"flatten_{name}_{i}")(y))
    x = keras.layers.Concatenate(name="s5_maps")(branches)
    # C6: a convolution whose kernel covers the whole remaining map is a fully connected layer
    x = keras.layers.Dense(c6_units, activation="tanh", name="c6")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="output", dtype="float32")(x)
    return keras.Model(clip, probs, name="ji_3dcnn")
