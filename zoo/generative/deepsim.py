"""DeePSiM: Dosovitskiy & Brox, "Generating Images with Perceptual Similarity Metrics based on Deep Networks",
NIPS 2016.

A generator G inverts the features x = E(y) of an image y (the paper inverts AlexNet's fc6). Its loss (Sec. 3)
    L = lambda_feat * L_feat + lambda_adv * L_adv + lambda_img * L_img,  per example:
- L_img = ||G(x) - y||^2, the squared Euclidean distance of the pixels (in the paper's 0..255 units);
- L_feat = ||C(G(x)) - C(y)||^2 in the feature space of a fixed comparator network C (AlexNet conv5 in most of
  the paper's experiments);
- L_adv = -log D(G(x), x): a discriminator D, trained with -log D(y, x) - log(1 - D(G(x), x)), sees the image and
  the feature vector it comes from.
Defaults are the paper's: lambda_img = 2e-6, lambda_feat = 0.01 (its AlexNet conv5 comparator), lambda_adv = 100;
Adam at 2e-4 with beta_1 = 0.9, beta_2 = 0.999.

Paper preset (the fc6 inversion, supplementary material): E and C are one AlexNet (Caffe's bvlc_alexnet layout,
227x227 RGB) read at fc6 (x, 4096-d) and conv5 (the comparison), frozen. G: three fully connected layers of 4096,
reshaped to 4x4x256, then up-convolutions (4x4 stride 2) and convolutions (3x3) 256, 512, 256, 256, 128, 128, 64,
32 and 3 channels to 256x256, centre-cropped to 227x227. D: convolutions 7x7/4 x32, 5x5 x64, 3x3/2 x128, 3x3 x256,
3x3/2 x256 (unpadded), global average pooling; x through fully connected layers of 1024 and 512; both concatenated,
dropout, 512 units, dropout, and the output (one logit: the paper's two-way softmax is the same model). Leaky ReLUs
(slope 0.3) throughout. Not reproduced: pausing D's updates while L_discr / L_adv < 0.1 (a conditional optimizer
step, which Keras does not express in a replica context under a distribution strategy).

The comparator is loaded from a local file (``comparator_weights``): for ``comparator="alexnet"`` a `.weights.h5`
of `alexnet()` below (conv kernels HWIO with Caffe's two groups, fc6 rows in Keras' HWC flattening order), for
``"digits"`` one of the zoo's digit classifier (`zoo.training.judge.digit_classifier`), which is otherwise trained
on the embedded MNIST and cached: the tiny preset inverts its 128-d features and compares at its conv2 maps.
"""

import warnings

import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.generative.common import images_of
from zoo.generative.gan import Adversarial, discriminator_loss, generator_loss
from zoo.layers import GroupedConv2D, LocalResponseNormalization
from zoo.registry import register
from zoo.training import judge

DEEPSIM_ADAM = {"class_name": "Adam", "config": {"learning_rate": 2e-4, "beta_1": 0.9, "beta_2": 0.999}}
IMAGENET_MEAN = (123.68, 116.78, 103.94)  # RGB, 0..255
PIXELS = 255.0  # L_img in the paper's units


@keras.saving.register_keras_serializable(package="zoo")
class DeePSiM(Adversarial):
    """``encoder``: images in [0, 1] -> [x, C(images)] (frozen); ``generator``: x -> images; ``discriminator``:
    {"images", "features"} -> logit of "real"."""

    NETWORKS = ("encoder", "generator", "discriminator")
    LOGS = ("loss", "d_loss", "g_loss", "image", "feature", "adversarial", "d_real", "d_fake")

    def __init__(self, encoder, generator, discriminator, lambda_img=2e-6, lambda_feat=0.01, lambda_adv=100.0,
                 optimizer_config=DEEPSIM_ADAM, seed=None, **kwargs):
        super().__init__(optimizer_config, seed, **kwargs)
        self.encoder, self.generator, self.discriminator = encoder, generator, discriminator
        self.encoder.trainable = False
        self.lambda_img, self.lambda_feat, self.lambda_adv = lambda_img, lambda_feat, lambda_adv
        self.image_shape = tuple(generator.outputs[0].shape[1:])
        self.feature_dim = int(generator.inputs[0].shape[-1])
        self.built = True

    def encode(self, images):
        """(x, C(images)): the features to invert and the comparator's features."""
        x, c = self.encoder(images, training=False)
        return tf.cast(x, tf.float32), tf.cast(c, tf.float32)

    def invert(self, features, training=False):
        return tf.cast(self.generator(features, training=training), tf.float32)

    def call(self, images, training=False):
        """G(E(images)): the reconstruction from the image's own features (not clipped)."""
        return self.invert(self.encode(images)[0], training)

    def reconstruct(self, images):
        return tf.clip_by_value(self(images), 0.0, 1.0)

    def _discriminate(self, images, features, training):
        return self.discriminator({"images": images, "features": features}, training=training)

    def generator_losses(self, images, training=False, encoded=None):
        """Per example: L_img, L_feat, L_adv and their weighted sum ("objective"), as defined above."""
        x, c_real = encoded or self.encode(images)
        fake = self.invert(x, training)
        flat = lambda t: tf.reshape(t, [tf.shape(t)[0], -1])  # noqa: E731
        image = tf.reduce_sum(tf.square(flat(PIXELS * (fake - images))), axis=-1)
        feature = tf.reduce_sum(tf.square(flat(self.encode(fake)[1] - c_real)), axis=-1)
        adversarial = generator_loss(self._discriminate(fake, x, training))[:, 0]
        objective = self.lambda_img * image + self.lambda_feat * feature + self.lambda_adv * adversarial
        return {"objective": objective, "image": image, "feature": feature, "adversarial": adversarial}

    def _discriminator_values(self, images, x, fake, training):
        real_logits = self._discriminate(images, x, training)
        fake_logits = self._discriminate(fake, x, training)
        return {"objective": discriminator_loss(real_logits, fake_logits)[:, 0],
                "d_real": tf.sigmoid(real_logits), "d_fake": tf.sigmoid(fake_logits)}

    def _logs(self, d, g):
        return self.update_logs(d["objective"], g["objective"], image=g["image"], feature=g["feature"],
                                adversarial=g["adversarial"], d_real=d["d_real"], d_fake=d["d_fake"])

    def train_step(self, data):
        images = tf.cast(images_of(data), tf.float32)
        x, c_real = self.encode(images)
        fake = tf.stop_gradient(self.invert(x, training=True))
        d = self.descend(self.d_optimizer, self.discriminator_weights,
                         lambda: self._discriminator_values(images, x, fake, training=True))
        g = self.descend(self.g_optimizer, self.generator_weights,
                         lambda: self.generator_losses(images, training=True, encoded=(x, c_real)))
        return self._logs(d, g)

    def test_step(self, data):
        images = tf.cast(images_of(data), tf.float32)
        x, c_real = self.encode(images)
        return self._logs(self._discriminator_values(images, x, self.invert(x), training=False),
                          self.generator_losses(images, encoded=(x, c_real)))

    def serving_endpoints(self):
        """reconstruct (uint8 images -> G(E(images)) in [0, 1]), invert (features -> images), encode (uint8
        images -> features)."""
        h, w, c = self.image_shape
        images = [tf.TensorSpec([None, h, w, c], tf.uint8, name="images")]
        as_float = lambda im: tf.cast(im, tf.float32) / 255.0  # noqa: E731
        return {
            "reconstruct": (lambda im: {"images": self.reconstruct(as_float(im))}, images),
            "invert": (lambda f: {"images": tf.clip_by_value(self.invert(f), 0.0, 1.0)},
                       [tf.TensorSpec([None, self.feature_dim], tf.float32, name="features")]),
            "encode": (lambda im: {"features": self.encode(as_float(im))[0]}, images),
        }

    def get_config(self):
        return {**super().get_config(), "lambda_img": self.lambda_img, "lambda_feat": self.lambda_feat,
                "lambda_adv": self.lambda_adv, "optimizer_config": self.optimizer_config, "seed": self.seed,
                **self.network_config()}


# -- the comparator ---------------------------------------------------------------------------------------------
def alexnet(image_shape=(227, 227, 3)):
    """Krizhevsky, Sutskever & Hinton 2012 as Caffe's bvlc_alexnet (the paper's comparator): images in [0, 1] RGB,
    scaled to 0..255 and centred on the ImageNet mean inside; Caffe's two groups in conv2, conv4 and conv5."""
    x = inputs = keras.Input(image_shape, name="images")
    x = keras.layers.Rescaling(255.0, offset=[-m for m in IMAGENET_MEAN], name="caffe_pixels")(x)
    lrn = dict(size=5, bias=1.0, alpha=1e-4 / 5, beta=0.75)  # Caffe's LRN divides alpha by the window size
    x = keras.layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(LocalResponseNormalization(**lrn, name="norm1")(x))
    x = GroupedConv2D(256, 5, padding="same", groups=2, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="pool2")(LocalResponseNormalization(**lrn, name="norm2")(x))
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = GroupedConv2D(384, 3, padding="same", groups=2, activation="relu", name="conv4")(x)
    x = GroupedConv2D(256, 3, padding="same", groups=2, activation="relu", name="conv5")(x)
    x = keras.layers.Flatten(name="flatten")(keras.layers.MaxPooling2D(3, 2, name="pool5")(x))
    x = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc7")(x)
    return keras.Model(inputs, keras.layers.Dense(1000, name="fc8")(x), name="alexnet")


def comparator_encoder(name, weights, image_shape, feature_layer, comparator_layer):
    """The frozen E and C: network ``name`` with ``weights``, read at ``feature_layer`` and ``comparator_layer``."""
    if name == "alexnet":
        net = alexnet(image_shape)
        if weights is None:
            warnings.warn("deepsim: the AlexNet comparator has random weights; give comparator_weights=PATH (a "
                          ".weights.h5 of zoo.generative.deepsim.alexnet) to train as the paper did", stacklevel=3)
        else:
            judge.load_weights(net, weights, "the zoo's AlexNet")
    elif name == "digits":
        if tuple(image_shape) != judge.DIGITS_SHAPE:
            raise ZooError(f"the digits comparator takes {judge.DIGITS_SHAPE} images, not {tuple(image_shape)}")
        net = judge.digit_classifier(weights=weights)
    else:
        raise ZooError(f"unknown comparator {name!r}; choose alexnet or digits")
    layers = [layer.name for layer in net.layers]
    for layer in (feature_layer, comparator_layer):
        if layer not in layers:
            raise ZooError(f"the {name} comparator has no layer {layer!r}; its layers: {', '.join(layers)}")
    encoder = keras.Model(net.input, [net.get_layer(feature_layer).output, net.get_layer(comparator_layer).output],
                          name="encoder")
    encoder.trainable = False
    return encoder


# -- generator and discriminator --------------------------------------------------------------------------------
def _lrelu(name):
    return keras.layers.LeakyReLU(negative_slope=0.3, name=name)


def deepsim_generator(feature_dim, image_shape, fc, start, convs):
    """x -> fully connected layers ``fc`` (the last reshaped to ``start``) -> (up-)convolutions ``convs``
    (filters, kernel, stride) -> a 4x4 stride-2 up-convolution to the image's channels, centre-cropped."""
    x = keras.Input((feature_dim,), name="features")
    h = x
    for i, units in enumerate(fc):
        h = _lrelu(f"fc{i + 1}_lrelu")(keras.layers.Dense(units, name=f"fc{i + 1}")(h))
    h = keras.layers.Reshape(start, name="reshape")(h)
    for i, (filters, kernel, stride) in enumerate(convs):
        conv = keras.layers.Conv2DTranspose if stride > 1 else keras.layers.Conv2D
        h = _lrelu(f"conv{i + 1}_lrelu")(conv(filters, kernel, strides=stride, padding="same", name=f"conv{i + 1}")(h))
    h = keras.layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", name="image", dtype="float32")(h)
    extra = [int(h.shape[1]) - image_shape[0], int(h.shape[2]) - image_shape[1]]
    if min(extra) < 0:
        raise ZooError(f"deepsim: the generator makes {tuple(h.shape[1:3])} images, smaller than {image_shape[:2]}")
    if max(extra) > 0:
        h = keras.layers.Cropping2D(((extra[0] // 2, extra[0] - extra[0] // 2),
                                     (extra[1] // 2, extra[1] - extra[1] // 2)), name="crop")(h)
    return keras.Model(x, h, name="generator")


def deepsim_discriminator(image_shape, feature_dim, convs, feature_fc, fc, dropout=0.5):
    inputs = {"images": keras.Input(image_shape, name="images"), "features": keras.Input((feature_dim,),
                                                                                         name="features")}
    h = inputs["images"]
    for i, (filters, kernel, stride) in enumerate(convs):
        h = _lrelu(f"conv{i + 1}_lrelu")(keras.layers.Conv2D(filters, kernel, strides=stride, name=f"conv{i + 1}")(h))
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    f = inputs["features"]
    for i, units in enumerate(feature_fc):
        f = _lrelu(f"features_fc{i + 1}_lrelu")(keras.layers.Dense(units, name=f"features_fc{i + 1}")(f))
    h = keras.layers.Concatenate(name="concat")([h, f])
    for i, units in enumerate(fc):
        h = keras.layers.Dropout(dropout, name=f"fc{i + 1}_dropout")(h)
        h = _lrelu(f"fc{i + 1}_lrelu")(keras.layers.Dense(units, name=f"fc{i + 1}")(h))
    h = keras.layers.Dropout(dropout, name="logit_dropout")(h)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit", dtype="float32")(h), name="discriminator")


@register(
    "deepsim",
    paper="Dosovitskiy & Brox 2016, Generating Images with Perceptual Similarity Metrics based on Deep Networks, "
          "Sec. 3, 4.3 (AlexNet fc6 inversion, conv5 comparator)",
    task="generative",
    input="image",
    tiny=dict(height=28, width=28, channels=1, comparator="digits", feature_layer="features",
              comparator_layer="conv2", generator_fc=(256, 7 * 7 * 32), generator_start=(7, 7, 32),
              generator_convs=((32, 4, 2), (16, 3, 1)), discriminator_convs=((32, 3, 2), (64, 3, 2)),
              discriminator_feature_fc=(64,), discriminator_fc=(64,), lambda_feat=0.1),
)
def deepsim(height=227, width=227, channels=3, comparator="alexnet", comparator_weights=None, feature_layer="fc6",
            comparator_layer="conv5", generator_fc=(4096, 4096, 4096), generator_start=(4, 4, 256),
            generator_convs=((256, 4, 2), (512, 3, 1), (256, 4, 2), (256, 3, 1), (128, 4, 2), (128, 3, 1),
                             (64, 4, 2), (32, 4, 2)),
            discriminator_convs=((32, 7, 4), (64, 5, 1), (128, 3, 2), (256, 3, 1), (256, 3, 2)),
            discriminator_feature_fc=(1024, 512), discriminator_fc=(512,), lambda_img=2e-6, lambda_feat=0.01,
            lambda_adv=100.0, seed=None):
    shape = (height, width, channels)
    encoder = comparator_encoder(comparator, comparator_weights, shape, feature_layer, comparator_layer)
    if len(encoder.outputs[0].shape) != 2:
        raise ZooError(f"deepsim inverts feature vectors; {comparator} layer {feature_layer!r} gives "
                       f"{tuple(encoder.outputs[0].shape[1:])} maps")
    dim = int(encoder.outputs[0].shape[-1])
    return DeePSiM(encoder, deepsim_generator(dim, shape, generator_fc, generator_start, generator_convs),
                   deepsim_discriminator(shape, dim, discriminator_convs, discriminator_feature_fc, discriminator_fc),
                   lambda_img=lambda_img, lambda_feat=lambda_feat, lambda_adv=lambda_adv, seed=seed, name="deepsim")
