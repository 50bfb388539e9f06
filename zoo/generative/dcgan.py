"""DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", ICLR 2016.

The architecture guidelines of Sec. 3, one by one:

- no pooling: strided convolutions in the discriminator, fractional-strided (transposed) convolutions in the
  generator;
- batch normalization in both, except at the generator's output and the discriminator's input;
- no fully connected hidden layers: the only dense layers are the projection of z that starts the generator (the
  "project and reshape" of Fig. 1) and the discriminator's single sigmoid output on its flattened last convolution;
- ReLU in the generator, Tanh at its output; LeakyReLU (slope 0.2) in the discriminator.

Paper preset, Fig. 1: 100-d z -> 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3, 5x5 kernels, and the
mirror-image discriminator 64x64x3 -> 32x32x128 -> ... -> 4x4x1024 -> 1 (``filters`` = 128 is the channels next to
the image; ``depth`` = 4 strided layers on each side). Sec. 4: weights from N(0, 0.02), Adam at 2e-4 with
beta_1 = 0.5, z uniform in [-1, 1], images scaled to the Tanh's [-1, 1]. As in the released code (Newmu/dcgan_code):
no biases in layers followed by batch normalization (its offset takes their place), batch normalization of the
projection per unit, its scale initialized from N(1, 0.02), its epsilon small (1e-5 here; Keras' default 1e-3 is of
the order of the variances of these N(0, 0.02)-initialized layers, and with it the tiny DCGAN did not learn in 4
epochs of MNIST, measured). Unlike the released code, the three layers without batch normalization (G's output, D's
first convolution and output) have biases, as is usual and as the paper does not say otherwise: without D's biases
the tiny DCGAN's FID after 4 epochs was 168 instead of 62 (measured). The batch normalization is synchronized across
replicas under a `tf.distribute` strategy; its moving averages (for sampling after training, where the released
code used batch statistics) use momentum 0.9.

This is Goodfellow et al.'s game (`zoo.generative.gan.GAN`: non-saturating G loss, one D step then one G step,
each network with its own Adam) with these networks.
"""

import keras

from zoo.errors import ZooError
from zoo.generative.gan import GAN
from zoo.registry import register

DCGAN_ADAM = {"class_name": "Adam", "config": {"learning_rate": 2e-4, "beta_1": 0.5}}


def _weights():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _batch_norm(name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True, name=name,
                                           gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))


def dcgan_generator(latent_dim, image_shape, filters, depth, kernel_size):
    (h, w, channels), scale = image_shape, 2 ** depth
    z = keras.Input((latent_dim,), name="z")
    width = filters * 2 ** (depth - 1)
    x = keras.layers.Dense(h // scale * w // scale * width, use_bias=False, kernel_initializer=_weights(),
                           name="project")(z)
    x = keras.layers.ReLU(name="project_relu")(_batch_norm("project_bn")(x))
    x = keras.layers.Reshape((h // scale, w // scale, width), name="reshape")(x)
    for i in range(1, depth):
        x = keras.layers.Conv2DTranspose(filters * 2 ** (depth - 1 - i), kernel_size, strides=2, padding="same",
                                         use_bias=False, kernel_initializer=_weights(), name=f"upconv{i}")(x)
        x = keras.layers.ReLU(name=f"upconv{i}_relu")(_batch_norm(f"upconv{i}_bn")(x))
    x = keras.layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same",
                                     kernel_initializer=_weights(), name=f"upconv{depth}")(x)
    return keras.Model(z, keras.layers.Activation("tanh", name="tanh", dtype="float32")(x), name="generator")


def dcgan_discriminator(image_shape, filters, depth, kernel_size):
    x = inputs = keras.Input(image_shape, name="images")
    for i in range(depth):
        x = keras.layers.Conv2D(filters * 2 ** i, kernel_size, strides=2, padding="same", use_bias=i == 0,
                                kernel_initializer=_weights(), name=f"conv{i + 1}")(x)
        if i > 0:
            x = _batch_norm(f"conv{i + 1}_bn")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"conv{i + 1}_lrelu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logit = keras.layers.Dense(1, kernel_initializer=_weights(), name="logit", dtype="float32")(x)
    return keras.Model(inputs, logit, name="discriminator")


@register(
    "dcgan",
    paper="Radford, Metz & Chintala 2016, Unsupervised Representation Learning with Deep Convolutional GANs, "
          "Sec. 3, 4, Fig. 1",
    task="generative",
    input="image",
    tiny=dict(height=28, width=28, channels=1, filters=32, depth=2),
)
def dcgan(height=64, width=64, channels=3, latent_dim=100, filters=128, depth=4, kernel_size=5, seed=None):
    if height % 2 ** depth or width % 2 ** depth:
        raise ZooError(f"dcgan: {height}x{width} images do not halve {depth} times (depth={depth}); "
                       f"use sizes that are multiples of {2 ** depth} or another depth")
    shape = (height, width, channels)
    return GAN(dcgan_generator(latent_dim, shape, filters, depth, kernel_size),
               dcgan_discriminator(shape, filters, depth, kernel_size), prior="uniform", output_activation="tanh",
               optimizer_config=DCGAN_ADAM, seed=seed, name="dcgan")
