"""LAPGAN: Denton, Chintala, Szlam & Fergus, "Deep Generative Image Models using a Laplacian Pyramid of Adversarial
Networks", NIPS 2015.

- The Laplacian pyramid (Sec. 2.2): with d(.) a blur-and-halve (here 2x2 averaging) and u(.) a doubling (bilinear),
  the Gaussian pyramid I_k = d(I_{k-1}) and the band-pass images h_k = I_k - u(I_{k+1}); the coarsest level is
  kept whole, and I_k = u(I_{k+1}) + h_k rebuilds the image exactly (`laplacian_pyramid`, `reconstruct`).
- One conditional GAN per level (Sec. 2.3, Eq. 2): the coarsest G_K is a plain GAN of the coarsest images; every
  finer G_k takes the upsampled coarser image l_k = u(I_{k+1}) with a noise plane as a 4th "colour" channel and
  generates the band-pass residual h_k; D_k sees h_k (real or generated) with l_k added to it before its first
  convolution. The levels are trained independently, each on the real l_k of the data; sampling runs through the
  pyramid, coarse to fine (Fig. 1): I_K = G_K(z_K), then I_k = u(I_{k+1}) + G_k(z_k, u(I_{k+1})).
- The CIFAR-10 model (Sec. 3.1, and the released code facebook/eyescream): 8x8 -> 16x16 -> 32x32. At 8x8, fully
  connected nets with 2 hidden ReLU layers, 1200 units in G_K and 600 with dropout in D_K; z_K 100-d uniform in
  [-1, 1]. At the finer scales, G_k has three convolutions (7x7 x128, 7x7 x128 with ReLUs, 5x5 to the colours, all
  padded to keep the size) and D_k two (5x5 x128 and 5x5 x128 stride 2, unpadded, ReLUs) and a sigmoid output after
  dropout; noise planes uniform in [-1, 1].
- The class-conditional variant (Sec. 3.1): a one-hot class vector passes through a linear layer (and a ReLU, as in
  the code) whose output is reshaped into one plane and concatenated with the first layer's input maps of every
  finer G_k and D_k; at the coarsest level it is concatenated with the noise (G) and the flattened image (D).
- Optimizers (`compile()` without one): SGD at 0.02 with momentum 0.5, the rate divided by (1 + 4e-5) at every
  step. The paper raises the momentum by 0.0008 per epoch up to 0.8; not reproduced (0.5 throughout).

Images are mapped to [-1, 1] for the networks. Levels are listed coarse to fine; each level's losses are logged
as d_loss_<size> and g_loss_<size> (sums over the levels: d_loss, g_loss). A conditional model takes
{"images": ..., "labels": one-hot} (`needs_labels`; the training data path supplies them).
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError
from zoo.generative.common import images_of, to_uint8
from zoo.generative.gan import Adversarial, dense_stack, discriminator_loss, draw_noise, generator_loss
from zoo.registry import register

LAPGAN_SGD = {"class_name": "SGD", "config": {"momentum": 0.5, "learning_rate": keras.saving.serialize_keras_object(
    keras.optimizers.schedules.ExponentialDecay(0.02, decay_steps=1, decay_rate=1 / (1 + 4e-5)))}}


# -- the pyramid ------------------------------------------------------------------------------------------------
def downsample(images):
    return tf.nn.avg_pool2d(images, 2, 2, "VALID")


def upsample(images):
    return tf.image.resize(images, 2 * tf.shape(images)[1:3], method="bilinear")


def gaussian_pyramid(images, levels):
    """[I_K, ..., I_1, I_0 = images]: coarse to fine."""
    pyramid = [images]
    for _ in range(levels - 1):
        pyramid.insert(0, downsample(pyramid[0]))
    return pyramid


def laplacian_pyramid(images, levels):
    """(I_K, [h_{K-1}, ..., h_0]): the coarsest image and the band-pass residuals, coarse to fine."""
    pyramid = gaussian_pyramid(images, levels)
    return pyramid[0], [fine - upsample(coarse) for coarse, fine in zip(pyramid, pyramid[1:])]


def reconstruct(coarsest, residuals):
    image = coarsest
    for residual in residuals:
        image = upsample(image) + residual
    return image


@keras.saving.register_keras_serializable(package="zoo")
class LAPGAN(Adversarial):
    """``generators`` and ``discriminators``: one functional model per level, coarse to fine, with dict inputs:
    coarsest G {"z"}, D {"images"}; finer G {"coarse", "noise"} -> residual, D {"residual", "coarse"}; each also
    with "labels" (one-hot) in the class-conditional variant."""

    NETWORKS = ("generators", "discriminators")

    def __init__(self, generators, discriminators, optimizer_config=LAPGAN_SGD, seed=None, **kwargs):
        self.sizes = [int(g.outputs[0].shape[1]) for g in generators]
        level_logs = [f"{kind}_loss_{size}" for size in self.sizes for kind in ("d", "g")]
        super().__init__(optimizer_config, seed, logs=(*self.LOGS, *level_logs), **kwargs)
        self.generators, self.discriminators = list(generators), list(discriminators)
        inputs = generators[0].input
        self.latent_dim = int(inputs["z"].shape[-1])
        self.num_classes = int(inputs["labels"].shape[-1]) if "labels" in inputs else 0
        self.needs_labels = self.num_classes > 0
        self.image_shape = tuple(generators[-1].outputs[0].shape[1:])
        self.built = True

    @property
    def discriminator_weights(self):
        return [w for d in self.discriminators for w in d.trainable_weights]

    @property
    def generator_weights(self):
        return [w for g in self.generators for w in g.trainable_weights]

    # -- inputs of the networks ----------------------------------------------------------------------------
    def _split(self, data):
        """A batch -> (images in [-1, 1], one-hot labels or None)."""
        x = images_of(data)
        if self.needs_labels:
            if not isinstance(x, dict):
                raise ValueError("the class-conditional LAPGAN takes {'images': ..., 'labels': one-hot}")
            return tf.cast(x["images"], tf.float32) * 2.0 - 1.0, tf.cast(x["labels"], tf.float32)
        return tf.cast(x, tf.float32) * 2.0 - 1.0, None

    def _conditions(self, pyramid, labels):
        """Per level, what its G and D are conditioned on: the upsampled coarser image (finer levels), labels."""
        extra = {} if labels is None else {"labels": labels}
        return [extra] + [{**extra, "coarse": upsample(coarse)} for coarse in pyramid[:-1]]

    def _noise(self, level, n, **how):
        shape = [n, self.latent_dim] if level == 0 else [n, self.sizes[level], self.sizes[level], 1]
        return {"z" if level == 0 else "noise": draw_noise("uniform", shape, stream=level, **how)}

    def _fake(self, level, condition, noise, training):
        return tf.cast(self.generators[level]({**condition, **noise}, training=training), tf.float32)

    def _logits(self, level, condition, image, training):
        return self.discriminators[level]({**condition, "images" if level == 0 else "residual": image},
                                          training=training)

    def _level_losses(self, real, fake, conditions, training):
        """Per example and level: D's and G's losses and D's probabilities of "real" on data and samples."""
        out = []
        for k, condition in enumerate(conditions):
            r = self._logits(k, condition, real[k], training)
            f = self._logits(k, condition, fake[k], training)
            out.append((discriminator_loss(r, f), generator_loss(f), tf.sigmoid(r), tf.sigmoid(f)))
        return out

    def _logs(self, level_losses):
        d, g, p_real, p_fake = (list(x) for x in zip(*level_losses))
        per_level = {f"{kind}_loss_{size}": v for size, dk, gk in zip(self.sizes, d, g)
                     for kind, v in (("d", dk), ("g", gk))}
        return self.update_logs(tf.add_n(d), tf.add_n(g), d_real=tf.reduce_mean(tf.stack(p_real), 0),
                                d_fake=tf.reduce_mean(tf.stack(p_fake), 0), **per_level)

    def _real(self, data):
        """(targets per level: I_K and the residuals h_k, conditions per level, batch size)."""
        images, labels = self._split(data)
        pyramid = gaussian_pyramid(images, len(self.sizes))
        conditions = self._conditions(pyramid, labels)
        targets = [pyramid[0]] + [fine - c["coarse"] for fine, c in zip(pyramid[1:], conditions[1:])]
        return targets, conditions, tf.shape(images)[0]

    # -- training: every level's GAN in one step -------------------------------------------------------------
    def train_step(self, data):
        real, conditions, n = self._real(data)
        levels = range(len(self.sizes))
        noise = [self._noise(k, n, seed_generator=self.seed_generator) for k in levels]
        fake = [tf.stop_gradient(self._fake(k, c, z, True)) for k, c, z in zip(levels, conditions, noise)]

        def d_objective():
            per_level = self._level_losses(real, fake, conditions, training=True)
            return {"objective": tf.add_n([d for d, _, _, _ in per_level]), "levels": per_level}

        def g_objective():
            per_level = [generator_loss(self._logits(k, c, self._fake(k, c, z, True), True))
                         for k, c, z in zip(levels, conditions, noise)]
            return {"objective": tf.add_n(per_level), "levels": per_level}

        d = self.descend(self.d_optimizer, self.discriminator_weights, d_objective)
        noise = [self._noise(k, n, seed_generator=self.seed_generator) for k in levels]
        g = self.descend(self.g_optimizer, self.generator_weights, g_objective)
        return self._logs([(dk, gk, pr, pf) for (dk, _, pr, pf), gk in zip(d["levels"], g["levels"])])

    def test_step(self, data):
        real, conditions, n = self._real(data)
        fake = [self._fake(k, c, self._noise(k, n, seed=0), False) for k, c in enumerate(conditions)]
        return self._logs(self._level_losses(real, fake, conditions, training=False))

    def call(self, x, training=False):
        """D's logits that x is real, one per level of x's pyramid: [batch, levels]."""
        real, conditions, _ = self._real(x)
        return tf.concat([self._logits(k, c, real[k], training) for k, c in enumerate(conditions)], axis=-1)

    # -- sampling through the pyramid ------------------------------------------------------------------------
    def one_hot(self, labels, num):
        if not self.needs_labels:
            return None
        labels = tf.range(num) % self.num_classes if labels is None else labels
        return tf.one_hot(labels, self.num_classes)

    def generate(self, noise, labels=None):
        """Sampling (Fig. 1) from the noise of each level (a list of dicts, coarse to fine) and one-hot labels:
        {"scales": [I_K, ..., I_0], "residuals": [h_{K-1}, ..., h_0]} in the networks' range [-1, 1]."""
        extra = {} if labels is None else {"labels": labels}
        scales, residuals = [self._fake(0, extra, noise[0], False)], []
        for k in range(1, len(self.sizes)):
            coarse = upsample(scales[-1])
            residuals.append(self._fake(k, {**extra, "coarse": coarse}, noise[k], False))
            scales.append(coarse + residuals[-1])
        return {"scales": scales, "residuals": residuals}

    def sample_pyramid(self, num, seed=None, labels=None):
        """``generate`` from the noise of ``seed``; the classes cycle through 0..C-1 unless ``labels`` are given."""
        seed = 0 if seed is None else seed
        return self.generate([self._noise(k, num, seed=seed) for k in range(len(self.sizes))],
                             self.one_hot(labels, num))

    def sample(self, num, seed=None, labels=None):
        """``num`` images in [0, 1] (the finest scale of `sample_pyramid`)."""
        return tf.clip_by_value((self.sample_pyramid(num, seed, labels)["scales"][-1] + 1.0) / 2.0, 0.0, 1.0)

    # -- export --------------------------------------------------------------------------------------------
    def serving_endpoints(self):
        """generate (z, one noise plane per finer level[, labels] -> uint8 images), sample (count, or the labels of
        the conditional model -> uint8 images)."""
        specs = [tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")] + [
            tf.TensorSpec([None, s, s, 1], tf.float32, name=f"noise_{s}") for s in self.sizes[1:]]
        label_spec = [tf.TensorSpec([None], tf.int32, name="labels")] if self.needs_labels else []

        def generate(z, *planes):
            planes, labels = (planes[:-1], planes[-1]) if self.needs_labels else (planes, None)
            noise = [{"z": z}] + [{"noise": p} for p in planes]
            x = self.generate(noise, self.one_hot(labels, tf.shape(z)[0]))["scales"][-1]
            return {"images": to_uint8((x + 1.0) / 2.0)}

        def sample(count):
            labels, num = (count, tf.shape(count)[0]) if self.needs_labels else (None, count)
            noise = [self._noise(k, num) for k in range(len(self.sizes))]
            x = self.generate(noise, self.one_hot(labels, num))["scales"][-1]
            return {"images": to_uint8((x + 1.0) / 2.0)}

        return {"generate": (generate, specs + label_spec),
                "sample": (sample, label_spec or [tf.TensorSpec([], tf.int32, name="num")])}

    def get_config(self):
        return {**super().get_config(), "optimizer_config": self.optimizer_config, "seed": self.seed,
                **self.network_config()}


# -- the networks of one level ----------------------------------------------------------------------------------
def _inputs(num_classes, **shapes):
    inputs = {k: keras.Input(s, name=k) for k, s in shapes.items()}
    if num_classes:
        inputs["labels"] = keras.Input((num_classes,), name="labels")
    return inputs


def _class_plane(labels, h, w, name):
    """Sec. 3.1: the class vector through a linear layer, reshaped into one plane (with the code's ReLU)."""
    plane = keras.layers.Dense(h * w, activation="relu", name=f"{name}_class_linear")(labels)
    return keras.layers.Reshape((h, w, 1), name=f"{name}_class_plane")(plane)


def coarse_generator(shape, latent_dim, hidden, num_classes):
    inputs = _inputs(num_classes, z=(latent_dim,))
    h = inputs["z"] if not num_classes else keras.layers.Concatenate(name="z_labels")([inputs["z"], inputs["labels"]])
    x = keras.layers.Dense(int(np.prod(shape)), name="pixels")(dense_stack(h, hidden, "relu"))
    return keras.Model(inputs, keras.layers.Reshape(shape, name="image", dtype="float32")(x),
                       name=f"generator_{shape[0]}")


def coarse_discriminator(shape, hidden, num_classes, dropout=0.5):
    inputs = _inputs(num_classes, images=shape)
    h = keras.layers.Flatten(name="flatten")(inputs["images"])
    if num_classes:
        h = keras.layers.Concatenate(name="pixels_labels")([h, inputs["labels"]])
    h = dense_stack(h, hidden, "relu", dropout=dropout)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit", dtype="float32")(h),
                       name=f"discriminator_{shape[0]}")


def residual_generator(shape, filters, num_classes):
    (h, w, c) = shape
    inputs = _inputs(num_classes, coarse=shape, noise=(h, w, 1))
    maps = [inputs["noise"]] + ([_class_plane(inputs["labels"], h, w, "g")] if num_classes else []) + \
        [inputs["coarse"]]
    x = keras.layers.Concatenate(name="planes")(maps)
    x = keras.layers.Conv2D(filters, 7, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(filters, 7, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(c, 5, padding="same", name="residual", dtype="float32")(x)
    return keras.Model(inputs, x, name=f"generator_{h}")


def residual_discriminator(shape, filters, num_classes, dropout=0.5):
    (h, w, _) = shape
    inputs = _inputs(num_classes, residual=shape, coarse=shape)
    x = keras.layers.Add(name="residual_plus_coarse")([inputs["residual"], inputs["coarse"]])
    if num_classes:
        x = keras.layers.Concatenate(name="planes")([x, _class_plane(inputs["labels"], h, w, "d")])
    x = keras.layers.Conv2D(filters, 5, activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(filters, 5, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(keras.layers.Flatten(name="flatten")(x))
    return keras.Model(inputs, keras.layers.Dense(1, name="logit", dtype="float32")(x), name=f"discriminator_{h}")


def build_lapgan(height, width, channels, levels, latent_dim, coarse_g_hidden, coarse_d_hidden, g_filters,
                 d_filters, num_classes, seed, name, d_dropout=0.5):
    scale = 2 ** (levels - 1)
    if levels < 1 or height % scale or width % scale:
        raise ZooError(f"{name}: {height}x{width} images do not halve {levels - 1} times (levels={levels})")
    shapes = [(height // 2 ** k, width // 2 ** k, channels) for k in reversed(range(levels))]
    generators = [coarse_generator(shapes[0], latent_dim, coarse_g_hidden, num_classes)] + \
        [residual_generator(s, g_filters, num_classes) for s in shapes[1:]]
    discriminators = [coarse_discriminator(shapes[0], coarse_d_hidden, num_classes, d_dropout)] + \
        [residual_discriminator(s, d_filters, num_classes, d_dropout) for s in shapes[1:]]
    return LAPGAN(generators, discriminators, seed=seed, name=name)


PAPER = "Denton, Chintala, Szlam & Fergus 2015, Deep Generative Image Models using a Laplacian Pyramid of " \
        "Adversarial Networks, Sec. 2, 3.1 (CIFAR-10"
TINY = dict(height=28, width=28, channels=1, coarse_g_hidden=(256, 256), coarse_d_hidden=(128, 128), g_filters=32,
            d_filters=32)


@register("lapgan", paper=PAPER + ")", task="generative", input="image", tiny=TINY)
def lapgan(height=32, width=32, channels=3, levels=3, latent_dim=100, coarse_g_hidden=(1200, 1200),
           coarse_d_hidden=(600, 600), g_filters=128, d_filters=128, seed=None, d_dropout=0.5):
    return build_lapgan(height, width, channels, levels, latent_dim, coarse_g_hidden, coarse_d_hidden, g_filters,
                        d_filters, 0, seed, "lapgan", d_dropout)


@register("lapgan-conditional", paper=PAPER + ", class-conditional)", task="generative", input="image", tiny=TINY)
def lapgan_conditional(height=32, width=32, channels=3, levels=3, num_classes=10, latent_dim=100,
                       coarse_g_hidden=(1200, 1200), coarse_d_hidden=(600, 600), g_filters=128, d_filters=128,
                       seed=None, d_dropout=0.5):
    if num_classes < 2:
        raise ZooError(f"lapgan-conditional needs at least 2 classes, not {num_classes}")
    return build_lapgan(height, width, channels, levels, latent_dim, coarse_g_hidden, coarse_d_hidden, g_filters,
                        d_filters, num_classes, seed, "lapgan_conditional", d_dropout)
