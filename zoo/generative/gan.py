"""Generative adversarial nets: Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio,
"Generative Adversarial Nets", NIPS 2014.

- The game (Eq. 1): D maximizes log D(x) + log(1 - D(G(z))); its loss here is that value function negated, per
  example. G minimizes -log D(G(z)), the non-saturating objective the paper recommends (Sec. 3: "rather than
  training G to minimize log(1 - D(G(z))) we can train G to maximize log D(G(z))").
- Algorithm 1 with k = 1: each training step is one discriminator step on a minibatch of data and of samples,
  then one generator step on fresh noise; each network has its own optimizer and each step moves only its own
  network's weights.
- The MNIST networks (Sec. 5; layer sizes from the released code, goodfeli/adversarial `mnist.yaml`): G maps
  100-d Gaussian noise through two ReLU layers of 1200 units to 784 sigmoid pixels; D is a maxout network, two
  layers of 240 units x 5 pieces and a sigmoid output, with dropout (inputs kept with probability 0.8, hidden units
  with 0.5). Initial weights are uniform in +-0.05 (G) and +-0.005 (D), as there. Not reproduced: the output biases
  the released code initializes from the data's pixel marginals (here 0), its factor 1/2 on D's loss and its
  momentum schedule (0.5 rising to 0.7 over 250 epochs; here 0.5 throughout).
- Optimizers (`compile()` without one): SGD at 0.1 with momentum 0.5, the learning rate divided by 1.000004 at
  every step (the released code). Given one optimizer, each player gets its own copy of it.

`Adversarial` is what the GAN family of the zoo shares (this model, DCGAN, LAPGAN, DeePSiM): the two optimizers,
replica-aware steps (a mean loss divided by the number of replicas, noise drawn per replica, see `zoo.distribute`)
and trackers named like the logged values: `loss` (d_loss + g_loss, what Keras' callbacks watch), `d_loss`,
`g_loss`, `d_real` and `d_fake` (D's mean probability of "real" on data and on samples).
"""


import keras
import numpy as np
import tensorflow as tf

from zoo import distribute
from zoo.generative.common import images_of, plain, to_uint8
from zoo.layers import Maxout
from zoo.registry import register

PRIORS = ("normal", "uniform")
OUTPUTS = ("sigmoid", "tanh")  # images in [0, 1], or in [-1, 1]
GOODFELLOW_SGD = {"class_name": "SGD", "config": {"momentum": 0.5, "learning_rate": keras.saving.serialize_keras_object(
    keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=1 / 1.000004))}}


def discriminator_loss(real_logits, fake_logits):
    """-[log D(x) + log(1 - D(G(z)))] per example (Eq. 1 negated), from D's logits."""
    return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


def generator_loss(fake_logits):
    """-log D(G(z)) per example: the non-saturating generator objective (Sec. 3)."""
    return tf.nn.softplus(-fake_logits)


def draw_noise(prior, shape, seed=None, seed_generator=None, stream=0):
    """Noise from ``prior`` ("normal": N(0, 1), "uniform": U(-1, 1)): drawn per replica from ``seed_generator``
    (training), reproducible from an integer ``seed`` (``stream`` tells apart draws of one seed), or else from
    TensorFlow's global random state (serving)."""
    if seed_generator is not None:
        if prior == "normal":
            return distribute.replica_normal(shape, seed_generator)
        return 2.0 * distribute.replica_uniform(shape, seed_generator) - 1.0
    if seed is not None:
        pair = tf.stack([tf.cast(seed, tf.int32), 7 + stream])
        if prior == "normal":
            return tf.random.stateless_normal(shape, seed=pair)
        return tf.random.stateless_uniform(shape, seed=pair, minval=-1.0, maxval=1.0)
    return tf.random.normal(shape) if prior == "normal" else tf.random.uniform(shape, -1.0, 1.0)


class Adversarial(keras.Model):
    """A discriminator and a generator, each with its own optimizer. Subclasses define the networks
    (``NETWORKS``: constructor arguments holding functional models, or lists of them), the logged values
    (``LOGS``), `discriminator_weights` / `generator_weights` and the training and test steps."""

    NETWORKS = ("generator", "discriminator")
    LOGS = ("loss", "d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, optimizer_config, seed=None, logs=None, **kwargs):
        super().__init__(**kwargs)
        self.optimizer_config, self.seed = plain(optimizer_config), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in logs or self.LOGS}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def discriminator_weights(self):
        return self.discriminator.trainable_weights

    @property
    def generator_weights(self):
        return self.generator.trainable_weights

    def compile(self, optimizer=None, **kwargs):
        """The paper's optimizer (``optimizer_config``) unless one is given; the discriminator and the generator
        each get their own copy (the generator's is also ``self.optimizer``, whose step count Keras reads)."""
        base = keras.optimizers.get(optimizer or plain(self.optimizer_config))
        base = getattr(base, "inner_optimizer", base)  # a reloaded mixed-precision model's LossScaleOptimizer
        copies = [type(base).from_config(base.get_config()) for _ in range(2)]
        if self.dtype_policy.name == "mixed_float16":
            copies = [keras.optimizers.LossScaleOptimizer(o) for o in copies]
        self.d_optimizer, self.g_optimizer = copies
        super().compile(optimizer=self.g_optimizer, **kwargs)
        # Built now, so that both optimizers' states are saved and restored (checkpoints, backups).
        self.d_optimizer.build(self.discriminator_weights)
        self.g_optimizer.build(self.generator_weights)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {"optimizer": keras.optimizers.serialize(getattr(self.g_optimizer, "inner_optimizer",
                                                                self.g_optimizer))}

    def compile_from_config(self, config):
        """Reloading (.keras, checkpoints) compiles again, so both optimizers' saved states load back."""
        self.compile(optimizer=keras.optimizers.deserialize(config["optimizer"]))

    def descend(self, optimizer, weights, losses):
        """One step of ``optimizer`` on ``weights`` down the batch mean of ``losses()["objective"]``, a dict of
        per-example values computed under the tape; returns that dict."""
        with tf.GradientTape() as tape:
            values = losses()
            # Keras sums the replicas' gradients: divide the per-replica mean by the number of replicas.
            loss = tf.reduce_mean(values["objective"]) / distribute.num_replicas()
            scaled = optimizer.scale_loss(loss)
        optimizer.apply(tape.gradient(scaled, weights), weights)
        return values

    def update_logs(self, d_loss, g_loss, **values):
        """Update the trackers with per-example values (``loss`` is d_loss + g_loss) and return the logs."""
        values.update(d_loss=d_loss, g_loss=g_loss, loss=d_loss + g_loss)
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {k: m.result() for k, m in self.trackers.items()}

    # -- (de)serialization of the networks ---------------------------------------------------------------------
    def network_config(self):
        def one(m):
            return [keras.saving.serialize_keras_object(x) for x in m] if isinstance(m, (list, tuple)) \
                else keras.saving.serialize_keras_object(m)
        return {k: one(getattr(self, k)) for k in self.NETWORKS}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.NETWORKS:
            value = config[key]
            config[key] = [keras.saving.deserialize_keras_object(x) for x in value] if isinstance(value, list) \
                else keras.saving.deserialize_keras_object(value)
        return cls(**config)


@keras.saving.register_keras_serializable(package="zoo")
class GAN(Adversarial):
    """A generator (z -> images) and a discriminator (images -> logit of "real"), both functional. ``prior`` is
    the noise distribution; ``output_activation`` the generator's range ("sigmoid": [0, 1], the data's; "tanh":
    [-1, 1], where the data are mapped before D sees them)."""

    def __init__(self, generator, discriminator, prior="normal", output_activation="sigmoid",
                 optimizer_config=GOODFELLOW_SGD, seed=None, **kwargs):
        super().__init__(optimizer_config, seed, **kwargs)
        if prior not in PRIORS or output_activation not in OUTPUTS:
            raise ValueError(f"prior must be one of {PRIORS} and output_activation one of {OUTPUTS}")
        self.generator, self.discriminator, self.prior = generator, discriminator, prior
        self.output_activation = output_activation
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = tuple(generator.outputs[0].shape[1:])
        self.built = True

    # -- the model -----------------------------------------------------------------------------------------
    def to_model(self, images):
        """Images in [0, 1] -> the generator's range."""
        return images * 2.0 - 1.0 if self.output_activation == "tanh" else images

    def to_images(self, values):
        values = tf.cast(values, tf.float32)
        return (values + 1.0) / 2.0 if self.output_activation == "tanh" else values

    def noise(self, num, seed=None):
        """The latent vectors behind ``sample(num, seed)``."""
        return draw_noise(self.prior, [num, self.latent_dim], seed=seed)

    def generate(self, z):
        """G(z) as images in [0, 1]."""
        return tf.clip_by_value(self.to_images(self.generator(z, training=False)), 0.0, 1.0)

    def sample(self, num, seed=None):
        """``num`` images in [0, 1] from the prior; the same ones for the same ``seed``."""
        return self.generate(self.noise(num, 0 if seed is None else seed))

    def call(self, x, training=False):
        """D's logits that images ``x`` (in [0, 1]) are real."""
        return self.discriminator(self.to_model(x), training=training)

    # -- training (Algorithm 1, k = 1) -----------------------------------------------------------------------
    def discriminator_step(self, real):
        z = draw_noise(self.prior, [tf.shape(real)[0], self.latent_dim], seed_generator=self.seed_generator)
        fake = tf.stop_gradient(self.generator(z, training=True))

        def losses():
            real_logits = self(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            return {"objective": discriminator_loss(real_logits, fake_logits), "d_real": tf.sigmoid(real_logits),
                    "d_fake": tf.sigmoid(fake_logits)}

        return self.descend(self.d_optimizer, self.discriminator_weights, losses)

    def generator_step(self, batch_size):
        z = draw_noise(self.prior, [batch_size, self.latent_dim], seed_generator=self.seed_generator)
        return self.descend(self.g_optimizer, self.generator_weights, lambda: {
            "objective": generator_loss(self.discriminator(self.generator(z, training=True), training=True))})

    def train_step(self, data):
        real = tf.cast(images_of(data), tf.float32)
        d = self.discriminator_step(real)
        g = self.generator_step(tf.shape(real)[0])
        return self.update_logs(d["objective"], g["objective"], d_real=d["d_real"], d_fake=d["d_fake"])

    def test_step(self, data):
        real = tf.cast(images_of(data), tf.float32)
        real_logits = self(real)
        fake_logits = self.discriminator(self.generator(self.noise(tf.shape(real)[0], seed=0)))
        return self.update_logs(discriminator_loss(real_logits, fake_logits), generator_loss(fake_logits),
                                d_real=tf.sigmoid(real_logits), d_fake=tf.sigmoid(fake_logits))

    # -- export (used by zoo.training.export) ----------------------------------------------------------------
    def serving_endpoints(self):
        """generate (z -> uint8 images), sample (count -> uint8 images and their z), discriminate (uint8 images ->
        probability of real)."""
        h, w, c = self.image_shape

        def sample(num):
            z = draw_noise(self.prior, [num, self.latent_dim])
            return {"images": to_uint8(self.generate(z)), "z": z}

        return {
            "generate": (lambda z: {"images": to_uint8(self.generate(z))},
                         [tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")]),
            "sample": (sample, [tf.TensorSpec([], tf.int32, name="num")]),
            "discriminate": (lambda images: {"probability": tf.sigmoid(self(tf.cast(images, tf.float32) / 255.0))},
                             [tf.TensorSpec([None, h, w, c], tf.uint8, name="images")]),
        }

    def get_config(self):
        return {**super().get_config(), "prior": self.prior, "output_activation": self.output_activation,
                "optimizer_config": self.optimizer_config, "seed": self.seed, **self.network_config()}


def dense_stack(h, units, activation, initializer=None, dropout=0.0, name="hidden"):
    """Fully connected layers ``units`` with ``activation``, each followed by dropout when ``dropout`` > 0."""
    for i, n in enumerate(units):
        kw = {"kernel_initializer": initializer} if initializer is not None else {}
        h = keras.layers.Dense(n, activation=activation, name=f"{name}{i + 1}", **kw)(h)
        if dropout:
            h = keras.layers.Dropout(dropout, name=f"{name}{i + 1}_dropout")(h)
    return h


def mlp_generator(latent_dim, hidden, image_shape, irange=0.05):
    init = keras.initializers.RandomUniform(-irange, irange)
    z = keras.Input((latent_dim,), name="z")
    h = dense_stack(z, hidden, "relu", init)
    x = keras.layers.Dense(int(np.prod(image_shape)), activation="sigmoid", kernel_initializer=init, name="pixels",
                           dtype="float32")(h)
    return keras.Model(z, keras.layers.Reshape(image_shape, name="image")(x), name="generator")


def maxout_discriminator(image_shape, units, pieces, input_dropout, dropout, irange=0.005):
    init = keras.initializers.RandomUniform(-irange, irange)
    x = keras.Input(image_shape, name="images")
    h = keras.layers.Dropout(input_dropout, name="input_dropout")(keras.layers.Flatten(name="flatten")(x))
    for i, n in enumerate(units):
        h = keras.layers.Dense(n * pieces, kernel_initializer=init, name=f"maxout{i + 1}_pieces")(h)
        h = keras.layers.Dropout(dropout, name=f"maxout{i + 1}_dropout")(Maxout(pieces, name=f"maxout{i + 1}")(h))
    logit = keras.layers.Dense(1, kernel_initializer=init, name="logit", dtype="float32")(h)
    return keras.Model(x, logit, name="discriminator")


@register(
    "gan",
    paper="Goodfellow et al. 2014, Generative Adversarial Nets, Sec. 3, 5, Algorithm 1 (MNIST nets of the code)",
    task="generative",
    input="image",
    tiny=dict(g_hidden=(256, 256), d_units=(64, 64)),
)
def gan(height=28, width=28, channels=1, latent_dim=100, g_hidden=(1200, 1200), d_units=(240, 240), d_pieces=5,
        d_input_dropout=0.2, d_dropout=0.5, seed=None):
    shape = (height, width, channels)
    return GAN(mlp_generator(latent_dim, g_hidden, shape),
               maxout_discriminator(shape, d_units, d_pieces, d_input_dropout, d_dropout), prior="normal",
               output_activation="sigmoid", optimizer_config=GOODFELLOW_SGD, seed=seed, name="gan")
