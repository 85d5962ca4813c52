"""Training speed of bpcore against its peers, in examples per second.

    python benchmarks/bench_train.py                # full run, 5-6 minutes on 2 cores
    python benchmarks/bench_train.py --quick        # under a minute, rougher
    python benchmarks/bench_train.py --shapes B,C --dtypes float32 --json out.json
    python benchmarks/bench_train.py --check-fann   # FANN runs the lecture's algorithm?

Shapes A 3-2-1, B 64-32-10, C 784-128-10, D 784-512-256-10; sigmoid units, ½
squared error, learning rate 0.1, one example per update, one thread. Prints
the speed table and the ratios issue 3 sets as targets. See benchmarks/README.md.
"""

import argparse
import json
import os
import sys

from bpbench.env import BENCH_ENV, dropped_env, reexec_with_bench_env

DTYPES = ("float64", "float32")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"bench_train.py: error: {message}\n")


def _choice_list(allowed):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        bad = [item for item in items if item not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {','.join(allowed)}")
        return items

    return parse


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive {kind.__name__}")
        return value

    return parse


def parse_args(argv, shapes, peers):
    parser = _Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Columns and method: benchmarks/README.md.")
    parser.add_argument("--quick", action="store_true", help="3 runs of ~0.2 s each per cell instead of 5 of ~1 s")
    parser.add_argument("--shapes", type=_choice_list(shapes), default=list(shapes), help="e.g. A,B (default: all)")
    parser.add_argument("--dtypes", type=_choice_list(DTYPES), default=list(DTYPES),
                        help="float64,float32 (default: both)")
    parser.add_argument("--peers", type=_choice_list(peers), default=list(peers),
                        help=f"columns to measure (default: all of {','.join(peers)})")
    parser.add_argument("--repeats", type=_positive(int), help="timed runs per cell; the median is shown (default 5)")
    parser.add_argument("--budget", type=_positive(float), help="seconds one timed run should last (default 1.0)")
    parser.add_argument("--json", metavar="OUT", help="also write all measurements to this JSON file")
    parser.add_argument("--check-fann", action="store_true",
                        help="only check that FANN, as configured, gives bpcore.reference's weights")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.budget = args.budget or (0.2 if args.quick else 1.0)
    return args


def _fann_checks():
    """Lines saying how far FANN's weights are from bpcore.reference's after 20
    examples on a 3-4-3-2 network, and whether all are within tolerance
    (float64 1e-12, float32 1e-6). Raises FannError without FANN."""
    from bpbench.fann import check_equivalence

    lines, ok = [], True
    for dtype, limit in (("float64", 1e-12), ("float32", 1e-6)):
        for via_epoch, label in ((False, "fann_train per example"), (True, "fann_train_on_data epoch")):
            diff = check_equivalence(dtype, n_examples=20, via_epoch=via_epoch)
            ok &= diff <= limit
            lines.append(f"FANN {dtype}, {label}: weights differ from bpcore.reference's by {diff:.2g} "
                         f"after 20 examples ({'ok' if diff <= limit else 'MISMATCH'}, tolerance {limit:g})")
    return lines, ok


def check_fann():
    """--check-fann: exit status 0 when FANN runs the lecture's algorithm, 1
    on a mismatch or without FANN."""
    from bpbench.fann import FannError

    try:
        lines, ok = _fann_checks()
    except FannError as exc:
        print(f"FANN check: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0 if ok else 1


def _machine():
    import bpcore
    import numpy as np

    from bpbench.timing import blas_info, cpu_name

    return {
        "cpu": cpu_name(), "cores": os.cpu_count(), "python": sys.version.split()[0],
        "bpcore": bpcore.__version__, "kernel_variant": bpcore.kernel_variant,
        "BPCORE_KERNEL": os.environ.get("BPCORE_KERNEL", ""), "numpy": np.__version__, "blas": blas_info(),
        "env": dict(BENCH_ENV), "dropped_env": dropped_env(),
    }


def _versions(results):
    """Versions of the peers that ran (imported by then)."""
    for module in ("torch", "sklearn"):
        if module in sys.modules:
            results.machine[module] = sys.modules[module].__version__


def run(args):
    import bpcore

    from bpbench.peers import PEERS, Unavailable
    from bpbench.report import Results
    from bpbench.timing import MatmulProbe, load_average, measure
    from bpbench.workload import SHAPES, make_data

    results = Results(args.shapes, args.dtypes, {key: PEERS[key][0] for key in args.peers}, machine=_machine())
    results.machine["load_average"] = [load_average()]
    # a quarter of a run per round: long enough to average out, short next to the trainers
    probes = {dtype: MatmulProbe(dtype, seconds=args.budget / 4) for dtype in args.dtypes}
    for key in args.shapes:
        shape = SHAPES[key]
        for dtype in args.dtypes:
            X, T, results.data_sources[key] = make_data(shape, dtype)
            net = bpcore.Network(shape.layer_sizes, seed=0, dtype=dtype)
            trainers = {}
            for peer in args.peers:
                if peer in results.unavailable:
                    continue
                try:
                    trainers[peer] = PEERS[peer][1](net, X, T)
                except Unavailable as exc:
                    results.unavailable[peer] = str(exc)
            measured, results.matmul[key, dtype] = measure(
                trainers, shape.n_examples, budget=args.budget, repeats=args.repeats, probe=probes[dtype])
            for peer, m in measured.items():
                results.speeds[key, dtype, peer] = m
                print(f"  {key} {dtype:7} {peer:9} {m.rate:12,.0f} examples/s  "
                      f"({m.epochs} x {m.n} examples per run)", file=sys.stderr, flush=True)
    _versions(results)
    results.machine["load_average"].append(load_average())
    return results


def main(argv=None):
    reexec_with_bench_env(__file__)
    from bpbench.peers import PEERS
    from bpbench.report import print_report, to_json
    from bpbench.workload import SHAPES

    args = parse_args(argv, list(SHAPES), list(PEERS))
    if args.check_fann:
        return check_fann()
    results = run(args)
    if "fann" in args.peers and "fann" not in results.unavailable:
        results.checks = _fann_checks()[0]
    print_report(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(to_json(results), out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
