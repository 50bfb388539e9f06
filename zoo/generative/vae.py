"""Variational autoencoder: Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

- Prior p(z) = N(0, I) (Sec. 3).
- Encoder q(z|x) = N(mu(x), diag sigma^2(x)): an MLP with one tanh hidden layer and linear outputs mu and
  log sigma^2 (Appendix C.2).
- Reparameterization z = mu + sigma * eps, eps ~ N(0, I) (Sec. 2.4), one sample per data point (L = 1).
- Decoder p(x|z): Bernoulli with sigmoid logits (Appendix C.1) or a diagonal Gaussian with predicted mean and
  log-variance (Appendix C.2); an MLP with one tanh hidden layer.
- Loss = -ELBO = -E_q[log p(x|z)] + KL(q(z|x) || p(z)) with the closed-form Gaussian KL of Appendix B, in nats per
  example. ``beta`` weighs the KL term (beta-VAE, Higgins et al. 2017; 1, the paper's ELBO, by default); the
  logged ``elbo`` is always the true bound.

Paper preset: 500 hidden units (the MNIST setting of Sec. 5) and 20 latent dimensions (one of the Fig. 2 settings).
`vae-conv` puts the same objective on the convolutional encoder (four 5x5 stride-2 ReLU convolutions, then linear
mu and log sigma^2) and the up-convolutional decoder of `autoencoder-conv`.

`log_likelihood(x, k)` is the importance-weighted estimate of log p(x) with k samples from q(z|x) (Burda, Grosse &
Salakhutdinov 2016; the marginal-likelihood estimator of Kingma & Welling's Appendix D): the test NLL in nats that
papers report, never looser than the ELBO in expectation.
The distributions are `tfp.distributions`, built inside `call`/`train_step` from parameter tensors (tfp.layers do
not work with Keras 3).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import distribute
from zoo.generative.autoencoder import conv_features, upconv_decoder
from zoo.generative.common import images_of, submodels_config, to_uint8, with_submodels
from zoo.registry import register

tfd = tfp.distributions
LIKELIHOODS = ("bernoulli", "gaussian")


@keras.saving.register_keras_serializable(package="zoo")
class VAE(keras.Model):
    """Wraps a functional encoder (x -> [mu, log_var]) and decoder (z -> distribution parameters)."""

    def __init__(self, encoder, decoder, likelihood="bernoulli", seed=None, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.encoder, self.decoder, self.likelihood, self.seed, self.beta = encoder, decoder, likelihood, seed, beta
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.image_shape = tuple(encoder.inputs[0].shape[1:])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("loss", "elbo", "reconstruction", "kl")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- the model's distributions ---------------------------------------------------------------------------
    def posterior(self, x, training=False):
        mean, log_var = (tf.cast(t, tf.float32) for t in self.encoder(x, training=training))  # float32 under
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))  # mixed precision

    def prior(self):
        return tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_dim), scale_diag=tf.ones(self.latent_dim))

    def likelihood_of(self, z, training=False):
        """p(x|z) as an event of rank 3 (H, W, C)."""
        params = tf.cast(self.decoder(z, training=training), tf.float32)
        if self.likelihood == "bernoulli":
            return tfd.Independent(tfd.Bernoulli(logits=params, dtype=tf.float32), reinterpreted_batch_ndims=3)
        mean, log_var = tf.split(params, 2, axis=-1)
        return tfd.Independent(tfd.Normal(tf.sigmoid(mean), tf.exp(0.5 * log_var)), reinterpreted_batch_ndims=3)

    def decode_mean(self, z):
        """The mean of p(x|z): pixel probabilities (Bernoulli) or the Gaussian mean, in [0, 1]."""
        return self.likelihood_of(z).mean()

    def elbo(self, x, training=False):
        """Per-example (elbo, reconstruction log-likelihood, KL) in nats, with one reparameterized sample."""
        q = self.posterior(x, training)
        eps = distribute.replica_normal(tf.shape(q.mean()), self.seed_generator)
        z = q.mean() + q.stddev() * eps  # reparameterization trick (Sec. 2.4)
        rec = self.likelihood_of(z, training).log_prob(x)
        kl = tfd.kl_divergence(q, self.prior())  # analytic (Appendix B)
        return rec - kl, rec, kl

    def log_likelihood(self, x, k=100, seed=0, chunk=100):
        """The importance-weighted estimate of log p(x) in nats per example (Burda, Grosse & Salakhutdinov 2016,
        Eq. 8; Kingma & Welling 2014, App. D): log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x), z_i ~ q(z | x).
        k = 1 is an unbiased estimate of the ELBO; the bound tightens as k grows and tends to log p(x). The samples
        are drawn ``chunk`` at a time (from stateless seeds) and combined with logsumexp."""
        x = tf.cast(x, tf.float32)
        q, prior = self.posterior(x), self.prior()
        total = None
        for i, start in enumerate(range(0, k, chunk)):
            n = min(chunk, k - start)
            z = q.sample(n, seed=tf.constant([seed, i], tf.int32))  # [n, B, latent]
            xs = tf.reshape(tf.broadcast_to(x, [n, *x.shape]), [-1, *x.shape[1:]])
            log_px = tf.reshape(self.likelihood_of(tf.reshape(z, [-1, self.latent_dim])).log_prob(xs), [n, -1])
            log_w = tf.reduce_logsumexp(log_px + prior.log_prob(z) - q.log_prob(z), axis=0)
            total = log_w if total is None else tf.reduce_logsumexp(tf.stack([total, log_w]), axis=0)
        return total - tf.math.log(float(k))

    def call(self, x, training=False):
        """Reconstruction: the decoder mean at the posterior mean."""
        return self.decode_mean(self.posterior(x, training).mean())

    def reconstruct(self, x):
        return self(x, training=False)

    def sample(self, num, seed=None):
        """``num`` images from the prior, as decoder means in [0, 1]."""
        z = tf.random.stateless_normal([num, self.latent_dim], seed=[0 if seed is None else seed, 7])
        return self.decode_mean(z)

    # -- training ------------------------------------------------------------------------------------------
    def compile(self, optimizer=None, **kwargs):
        """Adam at 1e-3 by default (the paper used Adagrad, Sec. 5; Adam converges faster on the same objective)."""
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    def compile_from_config(self, config):
        """Recompile on load: a `.keras` file keeps the optimizer and its state (Keras skips custom compiles)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def _update(self, elbo, rec, kl):
        for name, value in (("loss", -rec + self.beta * kl), ("elbo", elbo), ("reconstruction", -rec), ("kl", kl)):
            self.trackers[name].update_state(value)
        return {k: m.result() for k, m in self.trackers.items()}

    def train_step(self, data):
        x = tf.cast(images_of(data), tf.float32)
        with tf.GradientTape() as tape:
            elbo, rec, kl = self.elbo(x, training=True)
            # Keras sums replica gradients: divide the per-replica mean by the number of replicas.
            loss = tf.reduce_mean(-rec + self.beta * kl) / distribute.num_replicas()
            scaled = self.optimizer.scale_loss(loss)  # float16 training: a LossScaleOptimizer's scaling
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return self._update(elbo, rec, kl)

    def test_step(self, data):
        return self._update(*self.elbo(tf.cast(images_of(data), tf.float32)))

    # -- export (used by zoo.training.export) --------------------------------------------------------------
    def serving_endpoints(self):
        """SavedModel signatures: encode (uint8 images), decode (z), sample (count) - uint8 images out."""
        h, w, c = self.image_shape

        def encode(images):
            mean, log_var = self.encoder(tf.cast(images, tf.float32) / 255.0)
            return {"mean": mean, "log_variance": log_var}

        def decode(z):
            return {"images": to_uint8(self.decode_mean(z))}

        def sample(num):
            z = tf.random.normal([num, self.latent_dim])
            return {"images": to_uint8(self.decode_mean(z)), "z": z}

        return {
            "encode": (encode, [tf.TensorSpec([None, h, w, c], tf.uint8, name="images")]),
            "decode": (decode, [tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")]),
            "sample": (sample, [tf.TensorSpec([], tf.int32, name="num")]),
        }

    def get_config(self):
        return {**super().get_config(), "likelihood": self.likelihood, "seed": self.seed, "beta": self.beta,
                **submodels_config(encoder=self.encoder, decoder=self.decoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**with_submodels(config, "encoder", "decoder"))


def mlp_encoder(image_shape, hidden, latent_dim, activation):
    x = keras.Input(image_shape, name="images")
    h = keras.layers.Flatten(name="flatten")(x)
    h = keras.layers.Dense(hidden, activation=activation, name="hidden")(h)
    mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [mean, log_var], name="encoder")


def mlp_decoder(image_shape, hidden, latent_dim, activation, likelihood):
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(hidden, activation=activation, name="hidden")(z)
    k = 1 if likelihood == "bernoulli" else 2  # logits, or (mean logit, log-variance)
    p = keras.layers.Dense(int(np.prod(image_shape)) * k, name="params", dtype="float32")(h)
    p = keras.layers.Reshape((*image_shape[:2], image_shape[2] * k), name="reshape")(p)
    return keras.Model(z, p, name="decoder")


@register(
    "vae",
    paper="Kingma & Welling 2014, Auto-Encoding Variational Bayes, Sec. 2.4, 3, Appendix B, C",
    task="generative",
    input="image",
    tiny=dict(hidden=256, latent_dim=2),
)
def vae(height=28, width=28, channels=1, hidden=500, latent_dim=20, likelihood="bernoulli", activation="tanh",
        seed=None, beta=1.0):
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    shape = (height, width, channels)
    return VAE(mlp_encoder(shape, hidden, latent_dim, activation),
               mlp_decoder(shape, hidden, latent_dim, activation, likelihood), likelihood=likelihood, seed=seed,
               beta=beta, name="vae")


@register(
    "vae-conv",
    paper="Kingma & Welling 2014, Auto-Encoding Variational Bayes, Sec. 2.4, 3, Appendix B; the convolutional "
          "encoder and up-convolutional decoder of autoencoder-conv",
    task="generative",
    input="image",
    tiny=dict(filters=(8, 16, 16, 16), kernel_size=3, latent_dim=2),
)
def vae_conv(height=28, width=28, channels=1, filters=(32, 64, 128, 256), kernel_size=5, latent_dim=20,
             likelihood="bernoulli", seed=None, beta=1.0):
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    x = keras.Input((height, width, channels), name="images")
    h = conv_features(x, filters, kernel_size)
    encoder = keras.Model(x, [keras.layers.Dense(latent_dim, name="z_mean")(h),
                              keras.layers.Dense(latent_dim, name="z_log_var")(h)], name="encoder")
    out_channels = channels * (1 if likelihood == "bernoulli" else 2)  # logits, or (mean logit, log-variance)
    decoder = upconv_decoder(latent_dim, (height, width), filters, kernel_size, out_channels, input_name="z")
    return VAE(encoder, decoder, likelihood=likelihood, seed=seed, beta=beta, name="vae_conv")
