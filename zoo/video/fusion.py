"""Karpathy, Toderici, Shetty, Leung, Sukthankar, Fei-Fei, "Large-scale Video Classification with Convolutional
Neural Networks", CVPR 2014: the single-frame model of Section 3.1 and Figure 1 (the baseline the fusion models
extend).

Base network (Sec. 3.1): C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096)
on a 170x170 frame, where C(d,f,s) is a convolution with d filters of f x f at stride s, N local response
normalization, P non-overlapping 2x2 max pooling, and FC fully connected layers; all ReLU, then a softmax.
The paper does not give the padding: conv1 is "valid" (170 -> 54) and the others "same", which gives 6x6x256
before FC(4096), as in AlexNet.
"""

import keras

from zoo.layers import LocalResponseNormalization
from zoo.registry import register


@register(
    "single-frame",
    paper="Karpathy et al. 2014, Large-scale Video Classification with CNNs, Sec. 3.1, Fig. 1 (single frame)",
    task="classification",
    input="frame",
    tiny=dict(height=32, width=32, widths=(16, 32, 48, 48, 32), first_kernel=5, first_stride=1, fc_units=128,
              dropout=0.3),
)
def single_frame(num_classes=487, height=170, width=170, channels=3, widths=(96, 256, 384, 384, 256),
                 first_kernel=11, first_stride=3, fc_units=4096, dropout=0.5):
    frame = keras.Input((height, width, channels), name="frame")
    c1, c2, c3, c4, c5 = widths
    x = keras.layers.Conv2D(c1, first_kernel, strides=first_stride, activation="relu", kernel_initializer="he_normal", name="conv1")(frame)
    x = LocalResponseNormalization(name="norm1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(c2, 5, padding="same", activation="relu", kernel_initializer="he_normal", name="conv2")(x)
    x = LocalResponseNormalization(name="norm2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(c3, 3, padding="same", activation="relu", kernel_initializer="he_normal", name="conv3")(x)
    x = keras.layers.Conv2D(c4, 3, padding="same", activation="relu", kernel_initializer="he_normal", name="conv4")(x)
    x = keras.layers.Conv2D(c5, 3, padding="same", activation="relu", kernel_initializer="he_normal", name="conv5")(x)
    x = keras.layers.MaxPooling2D(2, name="pool5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for name in ("fc6", "fc7"):
        x = keras.layers.Dense(fc_units, activation="relu", name=name)(x)
        x = keras.layers.Dropout(dropout, name=f"drop{name[2]}")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="fc8", dtype="float32")(x)
    return keras.Model(frame, probs, name="single_frame")
