"""The benchmark's output: the speed table, the targets of issue 3 as ratios
with pass/miss, and the same as JSON."""

import dataclasses

from .workload import SHAPES, n_weights

__all__ = ["TARGETS", "Results", "print_report", "speed_table", "target_rows", "targets_table", "to_json"]

FLOPS_PER_WEIGHT = 6

# (shape, against, minimum): the fast trainer's examples/s over the peer's
# ("matmul": its GFLOP/s over numpy's single-thread matmul rate), same dtype
TARGETS = [
    ("B", "torch", 150), ("C", "torch", 10), ("D", "torch", 4),
    ("A", "fann", 1), ("B", "fann", 5), ("C", "fann", 5), ("D", "fann", 5),
    ("B", "reference", 300),
    ("C", "matmul", 0.70), ("D", "matmul", 0.70),
]


@dataclasses.dataclass
class Results:
    """Everything one run measured."""

    shapes: list  # keys of SHAPES, in order
    dtypes: list  # "float64" / "float32"
    peers: dict  # key -> column heading, in order
    speeds: dict = dataclasses.field(default_factory=dict)  # (shape, dtype, peer) -> Measurement
    unavailable: dict = dataclasses.field(default_factory=dict)  # peer -> reason
    matmul: dict = dataclasses.field(default_factory=dict)  # (shape, dtype) -> GFLOP/s, timed with that row
    machine: dict = dataclasses.field(default_factory=dict)
    data_sources: dict = dataclasses.field(default_factory=dict)  # shape -> where its data came from
    checks: list = dataclasses.field(default_factory=list)  # lines: do the peers run the same algorithm?

    def rate(self, shape, dtype, peer):
        found = self.speeds.get((shape, dtype, peer))
        return found.rate if found else None

    def gflops(self, shape, dtype):
        """GFLOP/s of the fast trainer: 6 flops per weight per example."""
        rate = self.rate(shape, dtype, "fast")
        return None if rate is None else rate * FLOPS_PER_WEIGHT * n_weights(SHAPES[shape].layer_sizes) / 1e9

    def matmul_peak(self, dtype):
        """The machine's single-thread matmul rate in ``dtype``: the highest of
        the rows' medians. Other programs slow the cache-hungry matmul more than
        the small trainers, so a row's own median could flatter the trainer."""
        rates = [rate for (_, of), rate in self.matmul.items() if of == dtype and rate]
        return max(rates) if rates else None

    def matmul_fraction(self, shape, dtype):
        gflops, peak = self.gflops(shape, dtype), self.matmul_peak(dtype)
        return None if gflops is None or not peak else gflops / peak

    def matmul_range(self):
        """dtype -> (lowest, highest) matmul GFLOP/s over the rows."""
        by_dtype = {}
        for (_, dtype), rate in self.matmul.items():
            by_dtype.setdefault(dtype, []).append(rate)
        return {dtype: (min(rates), max(rates)) for dtype, rates in by_dtype.items()}


def _si(value):
    if value is None:
        return "-"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _render(header, rows, left=1):
    """A plain-text table: the first ``left`` columns left-aligned, the rest right."""
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]

    def line(row):
        cells = [str(v).ljust(w) if c < left else str(v).rjust(w) for c, (v, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def speed_table(results):
    """Examples per second, one row per shape and dtype; ``*`` marks a rate
    measured on a subset of the examples."""
    header = ["shape", "dtype", *results.peers.values(), "GFLOP/s", "of matmul"]
    rows = []
    for key in results.shapes:
        shape = SHAPES[key]
        label = f"{key} {'-'.join(map(str, shape.layer_sizes))} ({shape.n_examples:,})"
        for dtype in results.dtypes:
            cells = []
            for peer in results.peers:
                found = results.speeds.get((key, dtype, peer))
                cells.append("n/a" if found is None else _si(found.rate) + ("*" if found.subset else ""))
            gflops, fraction = results.gflops(key, dtype), results.matmul_fraction(key, dtype)
            cells += ["-" if gflops is None else f"{gflops:.1f}", "-" if fraction is None else f"{fraction:.0%}"]
            rows.append([label, dtype, *cells])
    return _render(header, rows, left=2)


def target_rows(results):
    """One dict per target and dtype among the shapes and columns of the run:
    what was measured and whether it passes ("not measured": a peer was
    unavailable)."""
    rows = []
    for shape, against, minimum in TARGETS:
        columns = {"fast"} if against == "matmul" else {"fast", against}
        if shape not in results.shapes or not columns <= results.peers.keys():
            continue  # not asked for in this run
        for dtype in results.dtypes:
            if against == "matmul":
                name, value = f"{shape}: fast GFLOP/s / numpy matmul", results.matmul_fraction(shape, dtype)
            else:
                fast, peer = results.rate(shape, dtype, "fast"), results.rate(shape, dtype, against)
                name = f"{shape}: fast / {results.peers[against]}"
                value = None if fast is None or peer is None else fast / peer
            status = "not measured" if value is None else "pass" if value >= minimum else "miss"
            rows.append({"target": name, "shape": shape, "against": against, "dtype": dtype,
                         "minimum": minimum, "value": value, "status": status})
    return rows


def _ratio(value, against):
    if value is None:
        return "-"
    if against == "matmul":
        return f"{value:.0%}"
    return f"{value:.3g}x" if value < 1000 else f"{value:,.0f}x"


def targets_table(rows):
    """The targets as a table; a miss says which share of the target was reached."""
    table = []
    for row in rows:
        result = row["status"]
        if result == "miss":
            result += f" ({100 * row['value'] / row['minimum']:.3g}% of target)"
        table.append([row["target"], row["dtype"], _ratio(row["value"], row["against"]),
                      ">= " + _ratio(row["minimum"], row["against"]), result])
    return _render(["target (issue 3)", "dtype", "measured", "target", "result"], table, left=2)


def to_json(results):
    """A JSON-ready dict of the whole run."""
    speeds = [
        {"shape": shape, "layer_sizes": SHAPES[shape].layer_sizes, "dtype": dtype, "peer": peer,
         "examples_per_s": m.rate, "runs": m.runs, "n_examples": m.n, "epochs_per_run": m.epochs,
         "subset": m.subset}
        for (shape, dtype, peer), m in results.speeds.items()
    ]
    fast = [
        {"shape": shape, "dtype": dtype, "gflops": results.gflops(shape, dtype),
         "matmul_gflops_this_row": results.matmul.get((shape, dtype)),
         "matmul_gflops_peak": results.matmul_peak(dtype), "matmul_fraction": results.matmul_fraction(shape, dtype)}
        for shape in results.shapes for dtype in results.dtypes
    ]
    return {"machine": results.machine, "speeds": speeds,
            "fast_gflops": fast, "unavailable": results.unavailable, "data": results.data_sources,
            "checks": results.checks, "targets": target_rows(results)}


def _header(results):
    """What ran where: CPU, load, versions, kernel variant, BLAS, matmul, data."""
    m = results.machine
    lines = [f"CPU: {m['cpu']} ({m['cores']} cores; one thread used)"]
    start, end = m["load_average"]
    if start is not None:
        lines.append(f"load average (1 min) at start {start:.2f}, at end {end:.2f}: above ~1, "
                     "other programs shared the CPU and slowed every column")
    forced = f" (forced by BPCORE_KERNEL={m['BPCORE_KERNEL']})" if m["BPCORE_KERNEL"] else ""
    lines.append(f"bpcore {m['bpcore']}, kernel variant: {m['kernel_variant']}{forced}")
    blas = m["blas"]
    blas_text = blas.get("note") or (f"{blas['internal_api']} {blas['version']}, kernel "
                                     f"{blas['architecture']}, {blas['num_threads']} thread(s)")
    peers = "".join(f", {name} {m[name]}" for name in ("torch", "sklearn") if name in m)
    lines.append(f"Python {m['python']}, numpy {m['numpy']} ({blas_text}){peers}")
    lines.append(f"OpenBLAS core-type variables dropped for this run: {m['dropped_env']}")
    lines.append("single-thread numpy matmul (1024 x 1024), timed between the trainers' runs: " + ", ".join(
        f"{dtype} {low:.1f} to {high:.1f} GFLOP/s" for dtype, (low, high) in results.matmul_range().items())
        + " (the highest is taken as the machine's rate)")
    lines.append("data: " + "; ".join(f"{key}: {source}" for key, source in results.data_sources.items()))
    return lines + results.checks


def print_report(results):
    """The header, the speed table and the targets table, on stdout."""
    print("\n".join(_header(results)))
    print()
    print("Examples per second, one thread, median of the timed runs "
          "(* = time-boxed: measured on the first n examples only)")
    print(speed_table(results))
    print("GFLOP/s: the fast trainer's, counting 6 flops per weight per example; of matmul: that over "
          "the machine's single-thread matmul rate in the same dtype (above)")
    for peer, reason in results.unavailable.items():
        print(f"n/a {results.peers[peer]}: {reason}")
    print()
    print(targets_table(target_rows(results)))
