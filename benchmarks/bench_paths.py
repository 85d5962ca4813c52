"""Speed of every option path of ``bpcore.train``, and of batched inference
(issue 13). A script that prints tables, not a test.

    python benchmarks/bench_paths.py              # about 3 minutes on 2 cores
    python benchmarks/bench_paths.py --quick      # under a minute, rougher
    python benchmarks/bench_paths.py --shapes B --dtypes float32

Table 1, per shape and dtype: examples/s of plain per-example SGD and of
``momentum=0.9``, ``weight_decay=1e-4``, ``max_grad_norm=1.0``,
``batch_size=32``, ``batch_size=32, momentum=0.9``, and the optimizers of
issue 14 per example (``nesterov=True`` with ``momentum=0.9``,
``optimizer="adam"``, ``optimizer="rmsprop"``, these two at learning rate
0.001), with each path's ratio
to plain, all timed round-robin in the same run (sigmoid units, ½ squared
error, learning rate 0.1; the shapes and data of bench_train.py). For the
mini-batch rows also GFLOP/s (6 flops per weight per example) as a share of
numpy's single-thread matmul in the same run.

Table 2: ``net.predict`` and ``bpcore.total_error`` on 20,000 rows of C
784-128-10, in GFLOP/s (2 flops per weight per row) and as a share of numpy's
single-thread matmul rate in the same run.
"""

import argparse
import sys
import time

from bpbench.env import reexec_with_bench_env

PATHS = {
    "plain": {},
    "momentum=0.9": {"momentum": 0.9},
    "weight_decay=1e-4": {"weight_decay": 1e-4},
    "max_grad_norm=1.0": {"max_grad_norm": 1.0},
    "batch_size=32": {"batch_size": 32},
    "batch_size=32, momentum=0.9": {"batch_size": 32, "momentum": 0.9},
    "nesterov, momentum=0.9": {"momentum": 0.9, "nesterov": True},
    "adam (lr 0.001)": {"optimizer": "adam", "learning_rate": 0.001},
    "rmsprop (lr 0.001)": {"optimizer": "rmsprop", "learning_rate": 0.001},
}
DTYPES = ("float64", "float32")
INFERENCE_ROWS = 20_000


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"bench_paths.py: error: {message}\n")


def _choices(allowed):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items or any(item not in allowed for item in items):
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {','.join(allowed)}")
        return items

    return parse


def parse_args(argv):
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=_choices(("A", "B", "C", "D")), default=["B", "C", "D"])
    parser.add_argument("--dtypes", type=_choices(DTYPES), default=list(DTYPES))
    parser.add_argument("--quick", action="store_true", help="shorter, rougher runs")
    return parser.parse_args(argv)


def _trainer(bpcore, net, X, T, options):
    def run(n, epochs):
        bpcore.train(net.copy(), X[:n], T[:n], epochs=epochs, seed=0,
                     **{"learning_rate": 0.1, **options})

    return run


def path_table(args, budget, repeats):
    import bpcore
    from bpbench.timing import MatmulProbe, measure
    from bpbench.workload import SHAPES, make_data, n_weights

    print("Table 1: option paths of bpcore.train, examples/s and ratio to plain in the same run")
    print(f"{'shape':6} {'dtype':8} {'path':28} {'examples/s':>12} {'vs plain':>9} {'GFLOP/s':>8} {'of matmul':>9}")
    for key in args.shapes:
        shape = SHAPES[key]
        for dtype in args.dtypes:
            X, T, _ = make_data(shape, dtype)
            net = bpcore.Network(shape.layer_sizes, seed=0, dtype=dtype)
            runs = {name: _trainer(bpcore, net, X, T, options) for name, options in PATHS.items()}
            probe = MatmulProbe(dtype, seconds=budget / 4)
            measured, matmul = measure(runs, shape.n_examples, budget=budget, repeats=repeats, probe=probe)
            plain = measured["plain"].rate
            for name, m in measured.items():
                gflops = 6 * n_weights(shape.layer_sizes) * m.rate / 1e9
                share = f"{gflops / matmul:8.0%}" if "batch" in name or name == "plain" else ""
                print(f"{key:6} {dtype:8} {name:28} {m.rate:12,.0f} {m.rate / plain:8.2f}x "
                      f"{gflops:8.1f} {share:>9}", flush=True)
            print(f"{'':6} {dtype:8} {'numpy matmul (1 thread)':28} {'':12} {'':9} {matmul:8.1f}")


def inference_table(args, budget, repeats):
    import numpy as np

    import bpcore
    from bpbench.timing import MatmulProbe
    from bpbench.workload import SHAPES, n_weights

    shape = SHAPES["C"]
    flops = 2 * n_weights(shape.layer_sizes) * INFERENCE_ROWS
    print(f"\nTable 2: batched inference on {INFERENCE_ROWS:,} rows of C {'-'.join(map(str, shape.layer_sizes))}")
    print(f"{'dtype':8} {'call':22} {'seconds':>9} {'GFLOP/s':>8} {'of matmul':>9}")
    for dtype in args.dtypes:
        rng = np.random.default_rng(0)
        X = rng.random((INFERENCE_ROWS, shape.layer_sizes[0])).astype(dtype)
        T = np.eye(shape.layer_sizes[-1], dtype=dtype)[rng.integers(0, shape.layer_sizes[-1], INFERENCE_ROWS)]
        net = bpcore.Network(shape.layer_sizes, seed=0, dtype=dtype)
        probe = MatmulProbe(dtype, seconds=budget / 4)
        calls = {"net.predict": lambda: net.predict(X), "bpcore.total_error": lambda: bpcore.total_error(net, X, T)}
        times = {name: [] for name in calls}
        rates = []
        for name, call in calls.items():
            call()  # warm-up
        for _ in range(repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
            rates.append(probe())
        matmul = float(np.median(rates))
        for name, seconds in times.items():
            best = float(np.median(seconds))
            print(f"{dtype:8} {name:22} {best:9.4f} {flops / best / 1e9:8.1f} {flops / best / 1e9 / matmul:8.0%}")
        print(f"{dtype:8} {'numpy matmul (1 thread)':22} {'':9} {matmul:8.1f}")


def main(argv=None):
    reexec_with_bench_env(__file__)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import bpcore
    from bpbench.timing import cpu_name, load_average

    budget, repeats = (0.2, 3) if args.quick else (0.6, 5)
    print(f"bpcore {bpcore.__version__}, kernels {bpcore.kernel_variant}, {cpu_name()}, "
          f"load average {load_average()}")
    path_table(args, budget, repeats)
    inference_table(args, budget, repeats)
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
