"""The GAN papers' figures as tools, written as PNG grids (`figures.image_grid`):

- `nearest_neighbours_figure`: samples next to their nearest training images in pixel space (Goodfellow et al.
  2014, Fig. 2: "the rightmost column shows the nearest training example of the neighboring sample, in order to
  demonstrate that the model has not memorized the training set"); any model with ``sample(num, seed)``.
- `interpolation_figure`: generated images along lines between random latent points (Radford et al. 2016, Sec. 6.1
  and Fig. 4, "walking in the latent space"), linear or spherical (slerp, which keeps a Gaussian prior's typical
  norm); models with ``noise(num, seed)`` and ``generate(z)`` (GAN, DCGAN).
- `latent_arithmetic`: vector arithmetic on the average z of groups of exemplars (Radford et al. 2016, Sec. 6.3 and
  Fig. 7: "smiling woman" - "neutral woman" + "neutral man"), the result generated, and around it samples with
  uniform noise of +-0.25 added to the vector.

    z = np.asarray(model.noise(64, seed=0))          # the z behind model.sample(64, seed=0): look at that grid
    groups = {"thick 7": z[[3, 17, 40]], "thin 7": z[[5, 9, 22]], "thin 1": z[[1, 30, 51]]}
    latent_arithmetic(model, groups, "thick 7 - thin 7 + thin 1", "arithmetic.png")
"""

import re

import numpy as np

from zoo.errors import ZooError
from zoo.training.figures import image_grid


def nearest_neighbours(queries, images, k=1, chunk=256):
    """Indices [N, k] of the ``k`` images nearest to each query (Euclidean distance of the pixels) and the
    distances [N, k]; float64, so an exact copy is found at distance 0."""
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    q = np.asarray(queries, np.float64).reshape(len(queries), -1)
    xx = np.einsum("ij,ij->i", x, x)
    indices, distances = [], []
    for i in range(0, len(q), chunk):
        block = q[i:i + chunk]
        d2 = np.maximum(np.einsum("ij,ij->i", block, block)[:, None] + xx[None] - 2.0 * block @ x.T, 0.0)
        nearest = np.argsort(d2, axis=1, kind="stable")[:, :k]
        indices.append(nearest)
        distances.append(np.sqrt(np.take_along_axis(d2, nearest, axis=1)))
    return np.concatenate(indices), np.concatenate(distances)


def nearest_neighbours_figure(model, train_images, path, num=32, seed=0, per_row=8):
    """``num`` samples, each followed by its nearest training image; returns (path, indices, distances).
    ``train_images``: [N, H, W, C] in [0, 1] or uint8."""
    train = np.asarray(train_images)
    train = train.astype(np.float32) / 255.0 if train.dtype == np.uint8 else train.astype(np.float32)
    samples = np.asarray(model.sample(num, seed=seed), np.float32)
    indices, distances = nearest_neighbours(samples, train)
    pairs = np.stack([samples, train[indices[:, 0]]], axis=1).reshape(-1, *samples.shape[1:])
    image_grid(pairs, path, columns=2 * per_row)
    return path, indices[:, 0], distances[:, 0]


def interpolate(z0, z1, steps, spherical=False):
    """``steps`` points from z0 to z1 (both included): on the line, or on the great circle (slerp)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    if not spherical:
        return (1.0 - t) * z0 + t * z1
    omega = np.arccos(np.clip(z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1)), -1.0, 1.0))
    if omega < 1e-8:
        return (1.0 - t) * z0 + t * z1
    return (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


def interpolation_figure(model, path, pairs=8, steps=10, seed=0, spherical=False):
    """One row per pair of random latent points: G along the path between them. Returns (path, images
    [pairs, steps, H, W, C])."""
    z = np.asarray(model.noise(2 * pairs, seed=seed))
    path_z = np.concatenate([interpolate(z[2 * i], z[2 * i + 1], steps, spherical) for i in range(pairs)])
    images = np.asarray(model.generate(path_z.astype(np.float32)))
    image_grid(images, path, columns=steps)
    return path, images.reshape(pairs, steps, *images.shape[1:])


def parse_expression(expression):
    """"a - b + c" -> [(1, "a"), (-1, "b"), (1, "c")]; names may hold spaces, terms are split at " + " / " - "."""
    parts = re.split(r"\s+([+-])\s+", " " + expression.strip())
    signs, names = ["+"] + parts[1::2], [p.strip() for p in parts[0::2]]
    if names[0].startswith("-"):
        signs[0], names[0] = "-", names[0][1:].strip()
    if not all(names):
        raise ZooError(f"cannot read the latent expression {expression!r}: write terms like 'a - b + c'")
    return [(1.0 if s == "+" else -1.0, n) for s, n in zip(signs, names)]


def latent_arithmetic(model, groups, expression, path=None, num=8, noise=0.25, seed=0):
    """Radford et al.'s vector arithmetic: ``groups`` maps names to latent vectors [k, latent_dim] (exemplars);
    ``expression`` combines the groups' mean vectors ("a - b + c"). Writes (when ``path`` is given) one row per
    term, its exemplars then the image of their mean, and a last row with the result's image then ``num`` images of
    the result plus uniform noise in +-``noise``. Returns {"z": result, "images": [num + 1, H, W, C], "path": ...}."""
    terms = parse_expression(expression)
    unknown = sorted({n for _, n in terms} - set(groups))
    if unknown:
        raise ZooError(f"the latent expression names unknown groups {unknown}; known: {', '.join(groups)}")
    means = {name: np.asarray(z, np.float64).mean(axis=0) for name, z in groups.items()}
    result = sum(sign * means[name] for sign, name in terms)
    rng = np.random.default_rng(seed)
    around = result + rng.uniform(-noise, noise, (num, len(result)))
    images = np.asarray(model.generate(np.concatenate([result[None], around]).astype(np.float32)))
    if path is not None:
        rows = [np.asarray(model.generate(np.concatenate([np.asarray(groups[name], np.float64), means[name][None]])
                                          .astype(np.float32))) for _, name in terms] + [images]
        width = max(len(r) for r in rows)
        blank = np.zeros((1, *images.shape[1:]), np.float32)
        image_grid(np.concatenate([np.concatenate([r] + [blank] * (width - len(r))) for r in rows]), path,
                   columns=width)
    return {"z": result, "images": images, "path": path}
