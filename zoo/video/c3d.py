"""C3D: Tran, Bourdev, Fergus, Torresani, Paluri, "Learning Spatiotemporal Features with 3D Convolutional Networks",
ICCV 2015. Architecture of Section 3.3 and Figure 3.

    conv1a(64) pool1 | conv2a(128) pool2 | conv3a,b(256) pool3 | conv4a,b(512) pool4 | conv5a,b(512) pool5 |
    fc6(4096) fc7(4096) softmax

Every convolution is 3x3x3 with stride 1 and "same" padding; pool1 is 1x2x2 (so temporal information is not merged
too early) and pool2-5 are 2x2x2 with stride 2; the input is a 16x112x112x3 clip. pool5 pads like Caffe's ceil mode,
so a 2x7x7 map becomes 1x4x4 and fc6 sees 8192 values: with 101 classes this gives the 78,409,573 parameters other
implementations report ("about 78.4 million"). Dropout 0.5 follows fc6 and fc7 as in the authors' training files.

Not in the paper: ``batchnorm=True`` puts (synchronized) batch normalization after every convolution. The paper
preset keeps it off; the tiny preset turns it on, because without it the small network trained from scratch on a
CPU budget often stalls at chance (measured on digit-actions: Adam at 2e-3 never left chance in 30 epochs).
Weights use He initialization (the paper's Caffe files use small Gaussians, which fail the same way).
"""

import keras

from zoo.registry import register


@register(
    "c3d",
    paper="Tran et al. 2015, Learning Spatiotemporal Features with 3D Convolutional Networks, Sec. 3.3, Fig. 3",
    task="classification",
    input="clip",
    tiny=dict(frames=8, height=32, width=32, widths=(8, 16, 32, 32, 48, 48, 64, 64), fc_units=128, dropout=0.3,
              batchnorm=True),
)
def c3d(num_classes=101, frames=16, height=112, width=112, channels=3,
        widths=(64, 128, 256, 256, 512, 512, 512, 512), fc_units=4096, dropout=0.5, batchnorm=False):
    if len(widths) != 8:
        raise ValueError(f"C3D has 8 convolution layers; widths has {len(widths)}")
    clip = keras.Input((frames, height, width, channels), name="clip")
    names = ["conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"]
    pool_after = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2),
                  "conv5b": (2, 2, 2)}
    x = clip
    for name, units in zip(names, widths):
        if batchnorm:
            x = keras.layers.Conv3D(units, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                                    name=name)(x)
            x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
            x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
        else:
            x = keras.layers.Conv3D(units, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                                    name=name)(x)
        if name in pool_after:
            pool = "pool" + name[4]
            x = keras.layers.MaxPooling3D(pool_after[name], padding="same" if pool == "pool5" else "valid",
                                          name=pool)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for name in ("fc6", "fc7"):
        x = keras.layers.Dense(fc_units, activation="relu", name=name)(x)
        x = keras.layers.Dropout(dropout, name=f"drop{name[2]}")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="fc8", dtype="float32")(x)
    return keras.Model(clip, probs, name="c3d")
