"""`zoo data ingest`: a real video dataset on disk -> sharded TFRecord files of SequenceExample (`pipelines.records`).

    layout reader (ucf101, hmdb51, kinetics, folders, csv) -> (path, label, split) of every listed video
    plan: per split the videos sorted by id (their path relative to SOURCE); video k goes to shard k % n
    workers (spawned processes, `pipelines.videoio`): decode each video with PyAV (short side resized, frame rate
        capped), optional optical flow (`pipelines.flow`), JPEG-encode
    this process: assemble the SequenceExamples in order, write each shard atomically (temporary name, rename),
        then its sidecar report OUT/.ingest/SHARD.json
    resume: a shard whose file and sidecar exist is done; OUT/.ingest/plan.json pins the plan's fingerprint, so a
        rerun never mixes two plans and never writes a video twice

Frames follow C3D's preprocessing (Tran et al. 2015, Sec. 3: every frame resized to 128 px on the short side, UCF101's
320x240 becoming 171x128). Every file that is listed but cannot be ingested is skipped with its reason in the report.
"""

import collections
import concurrent.futures as cf
import csv
import fcntl
import glob
import hashlib
import json
import math
import multiprocessing
import os
import re
import sys
import time

from pipelines import flow as flow_lib
from pipelines import records, videoio
from pipelines.datasets import ZooError

LAYOUTS = ("ucf101", "hmdb51", "kinetics", "folders", "csv")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ogv")
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validate": "val", "validation": "val", "test": "test"}
VIDEOS_PER_SHARD = 100  # ~100 videos of ~150 frames at 128 px: shards of ~100 MB, as TensorFlow recommends
MIN_SHARDS = 8  # small splits are still split 8 ways, so workers and the interleaved reader have work
STATE = ".ingest"  # OUT/.ingest/: plan.json, one sidecar report per finished shard, the lock of a running ingest

Entry = collections.namedtuple("Entry", "path label split where")  # path relative to the root; where: "file:line"
Video = collections.namedtuple("Video", "id path label text")  # id: path relative to the root; label: index or -1


class SkippedFiles(Exception):
    """Raised by ``ingest(strict=True)`` when files were skipped (everything else is written); carries the report."""

    def __init__(self, report):
        super().__init__(f"{len(report['skipped'])} file(s) skipped")
        self.report = report


# ----------------------------------------------------------------------------------------------- layout readers

def _read_text(path):
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read().splitlines()
    except UnicodeDecodeError:
        raise ZooError(f"index file {path} is not UTF-8 text") from None
    except OSError as e:
        raise ZooError(f"cannot read index file {path}: {e.strerror}") from None


def _rows(path, counts, expected):
    """(where, fields) of the non-blank lines of a whitespace-separated index file; ZooError for a malformed line."""
    for n, line in enumerate(_read_text(path), 1):
        fields = line.split()
        if fields and len(fields) not in counts:
            raise ZooError(f"{path}:{n}: expected '{expected}', got {line.strip()!r}")
        if fields:
            yield f"{path}:{n}", fields


def _csv_rows(path):
    """(where, cells) of the non-blank rows of a CSV file."""
    try:
        rows = list(csv.reader(_read_text(path)))
    except csv.Error as e:
        raise ZooError(f"{path} is not a valid CSV file: {e}") from None
    return [(f"{path}:{n}", [c.strip() for c in row]) for n, row in enumerate(rows, 1) if any(c.strip() for c in row)]


def _index_dir(source, index, pattern, official):
    """The folder of the index files: ``index``, else SOURCE or SOURCE/<the official archive's folder>."""
    candidates = [index] if index else [source, os.path.join(source, official)]
    for folder in candidates:
        if glob.glob(os.path.join(glob.escape(folder), pattern)):
            return folder
    raise ZooError(f"no {pattern} in {' or '.join(candidates)}; give the folder of the split files with --index")


def read_ucf101(source, files, split_index, index):
    """UCF101 (Soomro et al. 2012): CLASS/v_CLASS_gGG_cCC.avi; classInd.txt ('1 ApplyEyeMakeup'), trainlist0N.txt
    ('CLASS/FILE.avi 1', the 1-based class index) and testlist0N.txt ('CLASS/FILE.avi'), N = 1, 2, 3."""
    folder = _index_dir(source, index, "classInd.txt", "ucfTrainTestlist")
    classes = []
    for where, (number, name) in _rows(os.path.join(folder, "classInd.txt"), (2,), "INDEX CLASS"):
        if number != str(len(classes) + 1) or name in classes:
            raise ZooError(f"{where}: expected class index {len(classes) + 1} and a new class, got {number} {name}")
        classes.append(name)
    entries = []
    for split, prefix in (("train", "trainlist"), ("test", "testlist")):
        for where, fields in _rows(os.path.join(folder, f"{prefix}{split_index:02d}.txt"), (1, 2),
                                   "CLASS/FILE.avi [INDEX]"):
            label = fields[0].split("/")[0]
            if label not in classes:
                raise ZooError(f"{where}: folder {label!r} of {fields[0]} is not a class of classInd.txt")
            if len(fields) == 2 and fields[1] != str(classes.index(label) + 1):
                raise ZooError(f"{where}: class index {fields[1]}, but {fields[0]} is in the folder of class "
                               f"{classes.index(label) + 1} ({label})")
            entries.append(Entry(fields[0], label, split, where))
    return classes, entries


def read_hmdb51(source, files, split_index, index):
    """HMDB51 (Kuehne et al. 2011): CLASS/FILE.avi; testTrainMulti_7030_splits/CLASS_test_splitN.txt with lines
    'FILE.avi FLAG', FLAG 1 = train, 2 = test, 0 = not used in split N; classes in alphabetical order."""
    suffix = f"_test_split{split_index}.txt"
    folder = _index_dir(source, index, "*" + suffix, "testTrainMulti_7030_splits")
    paths = sorted(glob.glob(os.path.join(glob.escape(folder), "*" + suffix)))
    classes = [os.path.basename(p)[:-len(suffix)] for p in paths]
    entries = []
    for label, path in zip(classes, paths):
        for where, (name, flag) in _rows(path, (2,), "FILE.avi FLAG"):
            if flag not in ("0", "1", "2"):
                raise ZooError(f"{where}: the flag must be 0 (unused), 1 (train) or 2 (test), got {flag!r}")
            if flag != "0":
                entries.append(Entry(f"{label}/{name}", label, "train" if flag == "1" else "test", where))
    return classes, entries


KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")


def read_kinetics(source, files, split_index, index):
    """Kinetics (Kay et al. 2017): CSV files (those in SOURCE, or --index FILE|FOLDER) with the columns label,
    youtube_id, time_start, time_end, split (test rows may have no label: unlabelled) over local files anywhere
    below SOURCE named YOUTUBEID_START_END.EXT (6-digit zero-padded seconds, as the official download scripts
    name them) or YOUTUBEID.EXT. Split 'validate' is called 'val'."""
    where = index or source
    paths = [where] if os.path.isfile(where) else sorted(glob.glob(os.path.join(glob.escape(where), "*.csv")))
    if not paths:
        raise ZooError(f"no Kinetics CSV file in {where}; give it with --index")
    by_stem = {}
    for f in files:
        if _is_video(f):
            by_stem.setdefault(os.path.splitext(os.path.basename(f))[0], f)
    entries = []
    for path in paths:
        rows = _csv_rows(path)
        header = rows[0][1] if rows else []
        missing = [c for c in KINETICS_COLUMNS[1:] if c not in header]
        if missing:
            raise ZooError(f"{path}: no column(s) {', '.join(missing)}; Kinetics CSVs have the columns "
                           f"{','.join(KINETICS_COLUMNS)}")
        for where, row in rows[1:]:
            if len(row) != len(header):
                raise ZooError(f"{where}: {len(row)} fields, but the header has {len(header)}")
            cell = dict(zip(header, row))
            try:
                stem = f"{cell['youtube_id']}_{int(float(cell['time_start'])):06d}_{int(float(cell['time_end'])):06d}"
            except ValueError:
                raise ZooError(f"{where}: time_start and time_end must be seconds, got {cell['time_start']!r} "
                               f"and {cell['time_end']!r}") from None
            path_of = by_stem.get(stem) or by_stem.get(cell["youtube_id"]) or stem + ".mp4"
            entries.append(Entry(path_of, cell.get("label", ""), cell["split"], where))
    return sorted({e.label for e in entries if e.label}), entries


def read_folders(source, files, split_index, index):
    """A folder per class, SOURCE/CLASS/**/VIDEO (all in split train), or per split and class,
    SOURCE/SPLIT/CLASS/**/VIDEO with SPLIT one of train, val (valid, validate, validation), test."""
    parts = [f.split("/") for f in files if _is_video(f) and "/" in f]
    by_split = bool(parts) and all(p[0].lower() in SPLIT_NAMES for p in parts)
    if by_split:
        entries = [Entry("/".join(p), p[1], p[0], "the folder tree") for p in parts if len(p) > 2]
    else:
        entries = [Entry("/".join(p), p[0], "train", "the folder tree") for p in parts]
    return sorted({e.label for e in entries}), entries


def read_csv(source, files, split_index, index):
    """A CSV file of 'path,label[,split]' rows (an optional header row 'path,label[,split]'; split defaults to train;
    an empty label is unlabelled); relative paths are relative to the CSV file's folder."""
    root = os.path.dirname(os.path.abspath(source))
    rows = _csv_rows(source)
    if rows and rows[0][1][0].lower() == "path":
        rows = rows[1:]
    entries = []
    for where, row in rows:
        if len(row) not in (2, 3) or not row[0]:
            raise ZooError(f"{where}: expected 'path,label[,split]', got {','.join(row)!r}")
        path = os.path.relpath(row[0], root) if os.path.isabs(row[0]) else row[0]
        entries.append(Entry(path.replace(os.sep, "/"), row[1], row[2] if len(row) == 3 and row[2] else "train",
                             where))
    return sorted({e.label for e in entries if e.label}), entries


READERS = {"ucf101": read_ucf101, "hmdb51": read_hmdb51, "kinetics": read_kinetics, "folders": read_folders,
           "csv": read_csv}


def _is_video(path):
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _walk(root):
    """Sorted POSIX paths, relative to ``root``, of the files below it (hidden files and folders left out)."""
    out = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        out += [n if rel == "." else f"{rel}/{n}" for n in names if not n.startswith(".")]
    return sorted(out)


def read_layout(source, layout, split_index=1, index=None):
    """What a dataset on disk holds: (classes, {split: [Video] sorted by id}, skipped [{path, reason}] of listed
    files that are not on disk, unused [video files below SOURCE in no split])."""
    if layout not in READERS:
        raise ZooError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not os.path.exists(source):
        raise ZooError(f"SOURCE {source} does not exist")
    if (layout == "csv") != os.path.isfile(source):
        raise ZooError(f"--layout {layout} takes {'a CSV file' if layout == 'csv' else 'a folder'} as SOURCE, "
                       f"got {source}")
    if index and layout not in ("ucf101", "hmdb51", "kinetics"):
        raise ZooError("--index is for the ucf101, hmdb51 and kinetics layouts")
    root = os.path.dirname(os.path.abspath(source)) if layout == "csv" else source
    files = [] if layout == "csv" else _walk(root)
    classes, entries = READERS[layout](source, files, split_index, index)
    label_of = {c: i for i, c in enumerate(classes)}
    lower = {f.lower(): f for f in files}  # UCF101's lists and folders differ in case in places
    videos, skipped, where_of = collections.defaultdict(list), [], {}
    for e in entries:
        split = SPLIT_NAMES.get(e.split.lower(), e.split)
        if not re.fullmatch(r"\w+", split):
            raise ZooError(f"{e.where}: a split name is a word (train, val, test, ...), got {e.split!r}")
        path = e.path if os.path.lexists(os.path.join(root, e.path)) else lower.get(e.path.lower())
        key = path or e.path
        if key in where_of:
            raise ZooError(f"{key} is listed twice: {where_of[key]} and {e.where}")
        where_of[key] = e.where
        if path is None:
            skipped.append({"path": e.path, "reason": f"missing: listed in {e.where}, not found below {root}"})
            continue
        videos[split].append(Video(path, os.path.join(root, path), label_of.get(e.label, -1), e.label))
    if not videos:
        raise ZooError(f"no videos found in {source} for --layout {layout}"
                       + (f" (the {len(skipped)} listed are missing, e.g. {skipped[0]['path']})" if skipped else ""))
    unused = [f for f in files if _is_video(f) and f not in where_of]
    order = {s: i for i, s in enumerate(("train", "val", "test"))}
    videos = {s: sorted(videos[s]) for s in sorted(videos, key=lambda s: (order.get(s, len(order)), s))}
    return classes, videos, skipped, unused


# ---------------------------------------------------------------------------------------------- shards, workers

def _sidecar(shard_path):
    return os.path.join(os.path.dirname(shard_path), STATE, os.path.basename(shard_path) + ".json")


def _write_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _encoded(videos, options, workers):
    """(Encoded or None, reason) of each video, in order: encoded here when one worker suffices, else by ``workers``
    spawned processes (spawn, not fork: TensorFlow is not fork-safe; the workers do not import it)."""
    if workers <= 1:
        yield from (videoio.try_encode((v.path, dict(options, threads=0))) for v in videos)
        return
    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=videoio.init_worker)
    try:
        yield from pool.map(videoio.try_encode, [(v.path, dict(options, threads=1)) for v in videos])
    except cf.process.BrokenProcessPool:
        raise ZooError("a worker process died (killed, or out of memory?); the finished shards are kept: run the "
                       "same command again to resume") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _write_shard(path, videos, results, notify=None):
    """Write one shard atomically from its videos' (Encoded, reason) results, then its sidecar report {videos, frames,
    bytes, skipped, padded}; ``notify(frames)`` is called after each video (frames 0 for a skipped one)."""
    report = {"videos": 0, "frames": 0, "skipped": [], "padded": []}

    def examples():
        for video, (encoded, reason) in zip(videos, results):
            frames = 0 if encoded is None else len(encoded.jpegs)
            if encoded is None:
                report["skipped"].append({"path": video.id, "reason": reason})
            else:
                report["videos"], report["frames"] = report["videos"] + 1, report["frames"] + frames
                if encoded.decoded < frames:
                    report["padded"].append({"path": video.id, "frames": encoded.decoded})
                yield records.sequence_example(encoded.jpegs, height=encoded.height, width=encoded.width,
                                               label=video.label, video_id=video.id, fps=encoded.fps,
                                               label_text=video.text, flow=encoded.flow)
            if notify:
                notify(frames)

    records.write_shard(path, examples())
    report["bytes"] = os.path.getsize(path)
    _write_json(_sidecar(path), report)
    return report


class Progress:
    """Videos done of a total, videos/s, frames and the time left, on stderr: redrawn in place on a terminal, a line
    every 10 s otherwise."""

    def __init__(self, total, enabled=True, stream=None):
        self.total, self.done, self.frames = total, 0, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = self.stream.isatty()
        self.start = self.shown = time.monotonic()

    def update(self, frames):
        self.done, self.frames = self.done + 1, self.frames + frames
        now = time.monotonic()
        if self.enabled and (now - self.shown >= (0.2 if self.tty else 10.0) or self.done == self.total):
            self.shown = now
            rate = self.done / max(now - self.start, 1e-6)
            bar = "#" * (30 * self.done // self.total)
            line = (f"ingest [{bar:30s}] {self.done}/{self.total} videos  {rate:.1f} videos/s  {self.frames} frames  "
                    f"{(self.total - self.done) / rate:.0f} s left")
            self.stream.write(f"\r{line}\033[K" if self.tty else f"{line}\n")  # K: erase the rest of the line
            self.stream.flush()

    def close(self):
        if self.enabled and self.tty:
            self.stream.write("\n")


# ----------------------------------------------------------------------------------------------------- ingest

def _require(ok, message):
    if not ok:
        raise ZooError(message)


def _options(short_side, fps, quality, flow, min_frames, max_frames):
    """The checked keyword arguments of `videoio.encode_video`."""
    _require(short_side is None or short_side >= 1, f"the short side is a number of pixels >= 1, got {short_side}")
    _require(fps is None or fps > 0, f"the frame-rate cap must be > 0, got {fps}")
    _require(1 <= quality <= 100, f"the JPEG quality is 1 to 100, got {quality}")
    _require(min_frames >= 0, f"min_frames must be >= 0, got {min_frames}")
    _require(max_frames is None or max_frames >= 1, f"max_frames must be >= 1, got {max_frames}")
    if flow is not None:
        flow_lib.check(flow)
    return dict(short_side=short_side, fps=fps, quality=quality, flow=flow, min_frames=min_frames,
                max_frames=max_frames)


def _plan(videos, shards):
    """{split: [(shard name, [Video])]}: video k of the id-sorted split goes to shard k % n."""
    plan = {}
    for split, items in videos.items():
        n = min(len(items), shards or max(math.ceil(len(items) / VIDEOS_PER_SHARD), MIN_SHARDS))
        plan[split] = [(records.shard_name(split, i, n), items[i::n]) for i in range(n)]
    return plan


def _difference(old, new):
    for key, value in new["settings"].items():
        if old["settings"].get(key) != value:
            return f"{key} {old['settings'].get(key)!r} there, {value!r} now"
    if old["classes"] != new["classes"]:
        return "other classes"
    counts = lambda state: ", ".join(f"{s} {v['videos']} videos in {v['shards']} shards"
                                     for s, v in sorted(state["splits"].items()))
    return f"other videos or shards: {counts(old)} there, {counts(new)} now"


def _claim(out, state):
    """Check that OUT is new, empty or holds this very plan; lock it; clear half-written files. Returns the lock."""
    _require("://" not in out, f"OUT must be a local folder, got {out}")
    _require(not os.path.exists(out) or os.path.isdir(out), f"OUT {out} is a file, not a folder")
    plan_path = os.path.join(out, STATE, "plan.json")
    if not os.path.exists(plan_path) and any(n != STATE for n in (os.listdir(out) if os.path.isdir(out) else ())):
        raise ZooError(f"OUT {out} is not empty and holds no `zoo data ingest` output; give a new or empty folder")
    os.makedirs(os.path.join(out, STATE), exist_ok=True)
    lock = open(os.path.join(out, STATE, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.exists(plan_path):
            old = _read_json(plan_path)
            _require(old.get("fingerprint") == state["fingerprint"],
                     f"OUT {out} holds another ingest ({_difference(old, state)}); give a new folder or delete it")
        else:
            _write_json(plan_path, state)
    except BlockingIOError:
        lock.close()
        raise ZooError(f"another `zoo data ingest` is writing {out}") from None
    except ZooError:
        lock.close()
        raise
    for folder in (out, os.path.join(out, STATE)):  # left by a killed run
        for name in os.listdir(folder):
            if ".tfrecord.tmp-" in name or ".tfrecord.index.tmp-" in name or name.endswith(".json.tmp"):
                os.remove(os.path.join(folder, name))
    return lock


def ingest(source, out_dir, *, layout, split_file_index=1, short_side=128, fps=None, quality=90, flow=None,
           workers=1, shards=None, strict=False, min_frames=16, max_frames=None, index=None, progress=True):
    """Ingest the videos of ``source`` (see LAYOUTS and the read_* functions) into ``out_dir``; returns the report.

    short_side: px of the resized short side (C3D's 128; None keeps the size); fps: frame-rate cap; quality: JPEG
    quality; flow: None, "farneback" or "tvl1" (`pipelines.flow`); shards: per split (default: one per 100 videos,
    at least 8); min_frames: shorter videos are padded by looping (C3D's 16-frame clip) and reported; max_frames:
    keep at most this many frames per video; index: the folder or file of the split files when not in SOURCE.
    A rerun skips the finished shards. With ``strict``, raises SkippedFiles after writing if any file was skipped.
    """
    started = time.monotonic()
    _require(workers >= 1 and (shards is None or shards >= 1), "workers and shards must be >= 1")
    options = _options(short_side, fps, quality, flow, min_frames, max_frames)
    classes, videos, skipped, unused = read_layout(source, layout, split_file_index, index)
    settings = dict(options, layout=layout, split_index=split_file_index if layout in ("ucf101", "hmdb51") else None)
    plan = _plan(videos, shards)
    listing = [settings, classes, {s: [(n, [(v.id, v.label) for v in vs]) for n, vs in p] for s, p in plan.items()}]
    state = {"fingerprint": hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest(),
             "settings": settings, "classes": classes, "source": os.path.abspath(source),
             "splits": {s: {"videos": len(videos[s]), "shards": len(p)} for s, p in plan.items()}}
    with _claim(out_dir, state):
        paths = {s: [os.path.join(out_dir, name) for name, _ in p] for s, p in plan.items()}
        todo = [(path, vs) for s, p in plan.items() for path, (_, vs) in zip(paths[s], p)
                if not (os.path.exists(path) and os.path.exists(_sidecar(path)))]
        bar = Progress(sum(len(vs) for _, vs in todo), enabled=progress)
        results = _encoded([v for _, vs in todo for v in vs], options, min(workers, bar.total))
        try:
            for path, vs in todo:
                _write_shard(path, vs, results, bar.update)
        finally:
            results.close()
            bar.close()
        records.write_indexes(path for ps in paths.values() for path in ps)  # shards finished without one
        shard_reports = {s: [_read_json(_sidecar(path)) for path in paths[s]] for s in plan}
        splits = {s: {"videos": sum(r["videos"] for r in rs), "frames": sum(r["frames"] for r in rs),
                      "shards": len(rs)} for s, rs in shard_reports.items()}
        every = [r for rs in shard_reports.values() for r in rs]
        skipped = sorted(skipped + [x for r in every for x in r["skipped"]], key=lambda x: x["path"])
        padded = sorted((x for r in every for x in r["padded"]), key=lambda x: x["path"])
        flow_meta = flow and {"algorithm": flow, "bound": flow_lib.BOUND, "params": flow_lib.ALGORITHMS[flow]}
        records.write_meta(out_dir, {
            "name": os.path.basename(os.path.abspath(out_dir)), "classes": classes, "splits": splits, "flip": True,
            "description": f"{layout} ingested from {os.path.abspath(source)}", "flow": flow_meta,
            "ingest": dict(settings, source=os.path.abspath(source), skipped=skipped, padded=padded,
                           unused_files=len(unused))})
    seconds = time.monotonic() - started
    report = {"out": out_dir, "source": source, "layout": layout, "classes": len(classes), "splits": splits,
              "videos": sum(v["videos"] for v in splits.values()), "frames": sum(v["frames"] for v in splits.values()),
              "bytes": sum(r["bytes"] for r in every), "shards": len(every), "shards_written": len(todo),
              "videos_processed": bar.total, "seconds": seconds, "videos_per_second": bar.total / seconds,
              "skipped": skipped, "padded": padded, "unused": unused, "min_frames": min_frames}
    if strict and skipped:
        raise SkippedFiles(report)
    return report


def format_report(report):
    """The report as the lines `zoo data ingest` prints."""
    splits = ", ".join(f"{s} {v['videos']}" for s, v in report["splits"].items())
    lines = [f"{report['videos']} videos ({splits}), {report['classes']} classes, {report['frames']:,} frames, "
             f"{report['bytes'] / 1e6:,.1f} MB in {report['shards']} shards: {report['out']}",
             f"this run: {report['shards_written']} of {report['shards']} shards written, "
             f"{report['videos_processed']} videos read in {report['seconds']:.1f} s "
             f"({report['videos_per_second']:.1f} videos/s)"]
    if report["skipped"]:
        lines.append(f"skipped {len(report['skipped'])} file(s):")
        lines += [f"  {x['path']}: {x['reason']}" for x in report["skipped"]]
    if report["padded"]:
        lines.append(f"padded {len(report['padded'])} short video(s) to {report['min_frames']} frames by looping:")
        lines += [f"  {x['path']}: {x['frames']} frame(s)" for x in report["padded"]]
    if report["unused"]:
        lines.append(f"{len(report['unused'])} video file(s) below SOURCE are in no split of the index and were not "
                     f"read, e.g. {', '.join(report['unused'][:3])}")
    return "\n".join(lines)
