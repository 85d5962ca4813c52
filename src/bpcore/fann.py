"""FANN's text network files (``FANN_FLO_2.1``): read them into a
:class:`~bpcore.Network` and write networks that libfann 2.2 loads.

    import bpcore.fann
    net = bpcore.fann.load("xor_float.net")          # a file saved by fann_save
    bpcore.fann.save(net, "again.net")               # fann_create_from_file reads it

FANN (the Fast Artificial Neural Network library) keeps a layered network as
neurons numbered across all layers, each layer ending in a bias neuron whose
value is always 1, and a list of connections ``(source neuron, weight)``
grouped by destination neuron. bpcore reads the fully connected layered
networks that ``fann_create_standard`` makes; everything it cannot represent
exactly is refused with a :class:`FannFormatError` that names what was found.
``docs/interop.md`` describes the mapping.

Activations (FANN applies ``steepness * sum`` before the function):

    bpcore sigmoid   FANN_SIGMOID (3), steepness 0.5    1 / (1 + exp(-2 * 0.5 * x))
    bpcore tanh      FANN_SIGMOID_SYMMETRIC (5), 1.0    2 / (1 + exp(-2 x)) - 1
    bpcore identity  FANN_LINEAR (0), steepness 1.0     x

Numbers are written with Python's ``format`` (never locale-dependent: always
a ``.`` decimal point) as ``%.20e`` does in C, libfann's own format for
doubles: 21 significant digits, more than the 17 that give a float64 back
exactly.
"""

import math
import os
import re
from typing import NamedTuple

import numpy as np

from .errors import ModelFormatError
from ._fileio import atomic_write
from .network import Network

__all__ = ["load", "load_with_scale", "save", "FannScale", "FannFormatError"]


class FannFormatError(ModelFormatError):
    """A FANN ``.net`` file that bpcore cannot read: not a FANN file, truncated,
    inconsistent, or a network bpcore has no equivalent for (fixed point,
    shortcut or sparse connections, other activations or steepnesses)."""


# FANN's activation function ids (enum fann_activationfunc_enum, fann_data.h).
ACTIVATION_IDS = {
    0: "FANN_LINEAR", 1: "FANN_THRESHOLD", 2: "FANN_THRESHOLD_SYMMETRIC", 3: "FANN_SIGMOID",
    4: "FANN_SIGMOID_STEPWISE", 5: "FANN_SIGMOID_SYMMETRIC", 6: "FANN_SIGMOID_SYMMETRIC_STEPWISE",
    7: "FANN_GAUSSIAN", 8: "FANN_GAUSSIAN_SYMMETRIC", 9: "FANN_GAUSSIAN_STEPWISE",
    10: "FANN_ELLIOT", 11: "FANN_ELLIOT_SYMMETRIC", 12: "FANN_LINEAR_PIECE",
    13: "FANN_LINEAR_PIECE_SYMMETRIC", 14: "FANN_SIN_SYMMETRIC", 15: "FANN_COS_SYMMETRIC",
    16: "FANN_SIN", 17: "FANN_COS", 18: "FANN_LINEAR_PIECE_RECT", 19: "FANN_LINEAR_PIECE_RECT_LEAKY",
}
# bpcore activation -> (FANN activation id, steepness) that computes it.
TO_FANN = {"sigmoid": (3, 0.5), "tanh": (5, 1.0), "identity": (0, 1.0)}
FROM_FANN = {pair: name for name, pair in TO_FANN.items()}
_HIDDEN = ("sigmoid", "tanh")  # bpcore hidden activations that FANN has
_OUTPUT = ("sigmoid", "identity")  # bpcore output activations that FANN has

VERSION = "FANN_FLO_2.1"
_READABLE_VERSIONS = ("FANN_FLO_2.1", "FANN_FLO_2.0")  # 2.0: the same, without the scale block

# The lines between the version and layer_sizes, in the order libfann 2.2
# writes and reads them, with the values fann_create_standard gives (bpcore
# writes these; reading checks their form and otherwise ignores them: they
# are FANN's training settings, which a bpcore Network does not hold).
_INT, _FLOAT = "int", "float"
_SETTINGS = [
    ("num_layers", _INT, None), ("learning_rate", _FLOAT, "0.700000"),
    ("connection_rate", _FLOAT, "1.000000"), ("network_type", _INT, "0"),
    ("learning_momentum", _FLOAT, "0.000000"), ("training_algorithm", _INT, "2"),
    ("train_error_function", _INT, "1"), ("train_stop_function", _INT, "0"),
    ("cascade_output_change_fraction", _FLOAT, "0.010000"), ("quickprop_decay", _FLOAT, "-0.000100"),
    ("quickprop_mu", _FLOAT, "1.750000"), ("rprop_increase_factor", _FLOAT, "1.200000"),
    ("rprop_decrease_factor", _FLOAT, "0.500000"), ("rprop_delta_min", _FLOAT, "0.000000"),
    ("rprop_delta_max", _FLOAT, "50.000000"), ("rprop_delta_zero", _FLOAT, "0.100000"),
    ("cascade_output_stagnation_epochs", _INT, "12"),
    ("cascade_candidate_change_fraction", _FLOAT, "0.010000"),
    ("cascade_candidate_stagnation_epochs", _INT, "12"), ("cascade_max_out_epochs", _INT, "150"),
    ("cascade_min_out_epochs", _INT, "50"), ("cascade_max_cand_epochs", _INT, "150"),
    ("cascade_min_cand_epochs", _INT, "50"), ("cascade_num_candidate_groups", _INT, "2"),
    ("bit_fail_limit", _FLOAT, "3.49999999999999977796e-01"),
    ("cascade_candidate_limit", _FLOAT, "1.00000000000000000000e+03"),
    ("cascade_weight_multiplier", _FLOAT, "4.00000000000000022204e-01"),
    ("cascade_activation_functions_count", _INT, "10"),
    ("cascade_activation_functions", "ints", "3 5 7 8 10 11 14 15 16 17 "),
    ("cascade_activation_steepnesses_count", _INT, "4"),
    ("cascade_activation_steepnesses", "floats",
     "2.50000000000000000000e-01 5.00000000000000000000e-01 7.50000000000000000000e-01 "
     "1.00000000000000000000e+00 "),
]
_SCALE_FIELDS = ("mean_in", "deviation_in", "new_min_in", "factor_in",
                 "mean_out", "deviation_out", "new_min_out", "factor_out")
_NEURONS_KEY = "neurons (num_inputs, activation_function, activation_steepness)"
_CONNECTIONS_KEY = "connections (connected_to_neuron, weight)"

# C's strtod forms that FANN writes (no hex floats, no locale), and the
# non-finite spellings, recognised so that they get their own message.
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,5})?|[-+]?(?i:nan|inf(?:inity)?)"
_UINT = r"\d{1,10}"  # FANN reads these with %u: at most 4294967295
_INT_RE = re.compile(_UINT)
_FLOAT_RE = re.compile(_NUMBER)
_NEURON = re.compile(rf"\(\s*({_UINT})\s*,\s*({_UINT})\s*,\s*({_NUMBER})\s*\)\s*")
_CONNECTION = re.compile(rf"\(\s*({_UINT})\s*,\s*({_NUMBER})\s*\)\s*")


class FannScale(NamedTuple):
    """FANN's scaling parameters (``fann_set_scaling_params``), one float64
    array per field: ``*_in`` have one value per input, ``*_out`` one per
    output. libfann holds them as float32; bpcore keeps the values the file
    gives."""

    mean_in: np.ndarray
    deviation_in: np.ndarray
    new_min_in: np.ndarray
    factor_in: np.ndarray
    mean_out: np.ndarray
    deviation_out: np.ndarray
    new_min_out: np.ndarray
    factor_out: np.ndarray

    def scale_input(self, X):
        """``fann_scale_input``: ``((x - mean) / deviation + 1) * factor + new_min``."""
        X = np.asarray(X, dtype=np.float64)
        return ((X - self.mean_in) / self.deviation_in + 1.0) * self.factor_in + self.new_min_in

    def descale_output(self, Y):
        """``fann_descale_output``: ``((y - new_min) / factor - 1) * deviation + mean``."""
        Y = np.asarray(Y, dtype=np.float64)
        return ((Y - self.new_min_out) / self.factor_out - 1.0) * self.deviation_out + self.mean_out


# ------------------------------------------------------------------ reading
def load(path):
    """The :class:`~bpcore.Network` (float64) in the FANN ``.net`` file at ``path``.

    Raises :class:`FannFormatError` (a :class:`~bpcore.ModelFormatError`)
    naming the problem for anything that is not a fully connected layered
    ``FANN_FLO_2.1``/``2.0`` network with the activations bpcore has, and
    OSError when the file cannot be opened. Any scale block is checked and
    dropped: :func:`load_with_scale` returns it.
    """
    return load_with_scale(path)[0]


def load_with_scale(path):
    """``(network, scale)``: ``scale`` is the file's :class:`FannScale`, or None
    when it has none (``scale_included=0``)."""
    where = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    return _Reader(raw, where).read()


def _describe_float(value):
    return repr(float(value))


class _Reader:
    """One pass over the file's lines; every error names the file and the line."""

    def __init__(self, raw, where):
        self.where = where
        self.lines = self._decode(raw).split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()  # the newline that ends the last line
        self.lines = [line[:-1] if line.endswith("\r") else line for line in self.lines]
        self.at = 0  # index of the next line
        self.line_of = {}  # key -> its line number

    def fail(self, message, line=None):
        line = self.at if line is None else line
        return FannFormatError(f"{self.where}, line {line}: {message}")

    def _decode(self, raw):
        if not raw:
            raise FannFormatError(f"{self.where}: not a FANN network file: the file is empty")
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            raise FannFormatError(
                f"{self.where}, line {line}: not a FANN network file: byte 0x{raw[e.start]:02x} "
                f"at offset {e.start} is not ASCII text (a FANN .net file is plain ASCII)"
            ) from None

    # -------------------------------------------------------------- lines
    def next_line(self, key):
        """The value of the next line, which must be ``key=value``."""
        if self.at >= len(self.lines):
            raise FannFormatError(
                f"{self.where}: the file ends after line {len(self.lines)}, before the "
                f"'{key}=' line (truncated?)"
            )
        line = self.lines[self.at]
        self.at += 1
        self.line_of[key] = self.at
        name, equals, value = line.partition("=")
        if not equals or name != key:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise self.fail(f"expected '{key}=…', found {shown!r}")
        return value

    def number(self, key, kind, value):
        pattern = _INT_RE if kind == _INT else _FLOAT_RE
        text = value.strip()
        if not pattern.fullmatch(text):
            what = "an unsigned integer" if kind == _INT else "a number"
            raise self.fail(f"{key} must be {what}; got {text[:40]!r}")
        if kind == _INT:
            return int(text)
        number = float(text)
        if not math.isfinite(number):
            raise self.fail(f"{key} is {text!r}: not a finite number")
        return number

    def number_list(self, key, kind, value, count):
        items = value.split()
        if len(items) != count:
            raise self.fail(f"{key} lists {len(items)} values; the count before it says {count}")
        return [self.number(key, kind, item) for item in items]

    # -------------------------------------------------------------- the file
    def read(self):
        self.check_version()
        settings = self.read_settings()
        sizes = self.read_layer_sizes(settings["num_layers"])
        scale = self.read_scale(sizes)
        neurons = self.read_neurons(sizes)
        weights = self.read_connections(sizes, neurons)
        if self.at < len(self.lines) and any(line.strip() for line in self.lines[self.at:]):
            raise self.fail("unexpected text after the connections line", line=self.at + 1)
        activation, output_activation = self.activations(sizes, neurons)
        return self.network(sizes, weights, activation, output_activation), scale

    def check_version(self):
        first = self.lines[0]
        self.at = 1
        if first in _READABLE_VERSIONS:
            self.version = first
            return
        if first.startswith("FANN_FIX_"):
            raise self.fail(
                f"a fixed-point FANN network ({first}): bpcore reads floating-point files "
                f"({VERSION}); save the network from the floating-point libfann (fann_save, "
                "not fann_save_to_fixed)"
            )
        if first.startswith("FANN_FLO_"):
            raise self.fail(f"FANN file version {first!r}: bpcore reads {', '.join(_READABLE_VERSIONS)}")
        shown = first if len(first) <= 40 else first[:37] + "..."
        raise self.fail(f"not a FANN network file: the first line is {shown!r}, expected {VERSION!r}")

    def read_settings(self):
        settings = {}
        for key, kind, _ in _SETTINGS:
            value = self.next_line(key)
            if kind in (_INT, _FLOAT):
                settings[key] = self.number(key, kind, value)
            else:
                count = settings[f"{key}_count"]
                settings[key] = self.number_list(key, _INT if kind == "ints" else _FLOAT, value, count)
        if settings["network_type"] != 0:
            raise self.fail(
                f"a shortcut network (network_type={settings['network_type']}, "
                "FANN_NETTYPE_SHORTCUT): bpcore reads layered networks only (network_type=0)",
                line=self.line_of["network_type"],
            )
        if settings["connection_rate"] != 1.0:
            raise self.fail(
                f"a sparse network (connection_rate={settings['connection_rate']!r}): bpcore "
                "reads fully connected networks only (connection_rate=1)",
                line=self.line_of["connection_rate"],
            )
        if settings["num_layers"] < 2:
            raise self.fail(
                f"num_layers is {settings['num_layers']}; a network needs at least 2",
                line=self.line_of["num_layers"],
            )
        return settings

    def read_layer_sizes(self, num_layers):
        value = self.next_line("layer_sizes")
        items = value.split()
        if len(items) != num_layers:
            raise self.fail(f"layer_sizes lists {len(items)} layers; num_layers says {num_layers}")
        sizes = [self.number("layer_sizes", _INT, item) for item in items]
        if any(n < 2 for n in sizes):
            raise self.fail(
                f"layer_sizes {sizes} has a layer of fewer than 2 neurons (each layer counts "
                "its units plus one bias neuron)"
            )
        return sizes

    def read_scale(self, sizes):
        if self.version == "FANN_FLO_2.0":
            return None
        included = self.number("scale_included", _INT, self.next_line("scale_included"))
        if included not in (0, 1):
            raise self.fail(f"scale_included must be 0 or 1; got {included}")
        if not included:
            return None
        arrays = []
        for field in _SCALE_FIELDS:
            key = f"scale_{field}"
            count = sizes[0] - 1 if field.endswith("_in") else sizes[-1] - 1
            values = self.number_list(key, _FLOAT, self.next_line(key), count)
            if field.startswith(("deviation", "factor")) and 0.0 in values:
                raise self.fail(f"{key} holds 0: scaling would divide by zero")
            arrays.append(np.array(values, dtype=np.float64))
        return FannScale(*arrays)

    def entries(self, key, pattern, expected, what):
        """The groups of every ``(…)`` entry on the next line, which must list
        exactly ``expected`` of them (checked before any array is made)."""
        line_number = self.at + 1
        value = self.next_line(key)
        found = value.count("(")
        if found != expected:
            raise self.fail(
                f"the {what} line lists {found} entries, but {self.counted_from} say "
                f"{expected} (truncated or edited?)",
                line=line_number,
            )
        rows, position = [], 0
        while position < len(value):
            m = pattern.match(value, position)
            if m is None:
                shown = value[position:position + 40]
                raise self.fail(f"{what} entry {len(rows)} is malformed: {shown!r}", line=line_number)
            rows.append(m.groups())
            position = m.end()
        return rows, line_number

    def read_neurons(self, sizes):
        self.counted_from = "layer_sizes"
        rows, line = self.entries(_NEURONS_KEY, _NEURON, sum(sizes), "neurons")
        neurons = []
        for k, (connections, function, steepness) in enumerate(rows):
            steep = float(steepness)
            if not math.isfinite(steep):
                raise self.fail(f"neuron {k} has steepness {steepness}", line=line)
            neurons.append((int(connections), int(function), steep))
        # A layered, fully connected network: every unit of layer l >= 1 takes
        # all units of layer l - 1 plus its bias; input units and bias neurons take none.
        k = 0
        for layer, size in enumerate(sizes):
            for unit in range(size):
                expected = 0 if layer == 0 or unit == size - 1 else sizes[layer - 1]
                if neurons[k][0] != expected:
                    role = "the bias neuron" if unit == size - 1 else f"unit {unit}"
                    raise self.fail(
                        f"neuron {k} ({role} of layer {layer}) has {neurons[k][0]} connections; "
                        f"in a fully connected layered network it has {expected} (shortcut or "
                        "sparse networks are not supported)",
                        line=line,
                    )
                k += 1
        return neurons

    def read_connections(self, sizes, neurons):
        self.counted_from = "the neurons' connection counts"
        total = sum(n for n, _, _ in neurons)
        rows, line = self.entries(_CONNECTIONS_KEY, _CONNECTION, total, "connections")
        sources = np.array([int(source) for source, _ in rows], dtype=np.int64)
        values = np.array([float(weight) for _, weight in rows], dtype=np.float64)
        n_neurons = len(neurons)
        bad = np.flatnonzero(sources >= n_neurons)
        if bad.size:
            raise self.fail(
                f"connection {bad[0]} comes from neuron {sources[bad[0]]}, but the network has "
                f"{n_neurons} neurons (0 to {n_neurons - 1})",
                line=line,
            )
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise self.fail(f"connection {bad[0]} has weight {rows[bad[0]][1]}: not a finite number", line=line)
        # Layer l's units take neurons first[l-1] … first[l-1] + sizes[l-1] - 1 in order.
        first = np.concatenate([[0], np.cumsum(sizes)])
        expected = np.concatenate([
            np.tile(np.arange(first[l - 1], first[l]), sizes[l] - 1) for l in range(1, len(sizes))
        ])
        bad = np.flatnonzero(sources != expected)
        if bad.size:
            raise self.fail(
                f"connection {bad[0]} comes from neuron {sources[bad[0]]}; in a fully connected "
                f"layered network it comes from neuron {expected[bad[0]]} (reordered, shortcut "
                "or sparse connections are not supported)",
                line=line,
            )
        weights, offset = [], 0
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            count = (n_out - 1) * n_in
            weights.append(values[offset:offset + count].reshape(n_out - 1, n_in))
            offset += count
        return weights

    def activations(self, sizes, neurons):
        first = np.concatenate([[0], np.cumsum(sizes)])
        hidden = {(f, s) for l in range(1, len(sizes) - 1) for _, f, s in neurons[first[l]:first[l + 1] - 1]}
        output = {(f, s) for _, f, s in neurons[first[-2]:first[-1] - 1]}
        activation = self.bpcore_activation(hidden, "hidden", _HIDDEN) if hidden else "sigmoid"
        return activation, self.bpcore_activation(output, "output", _OUTPUT)

    def bpcore_activation(self, pairs, role, allowed):
        line = self.line_of[_NEURONS_KEY]
        if len(pairs) > 1:
            shown = " and ".join(sorted(_describe(f, s) for f, s in pairs))
            raise self.fail(
                f"the {role} neurons use different activations ({shown}); a bpcore network has "
                f"one {role} activation",
                line=line,
            )
        function, steepness = next(iter(pairs))
        if function not in ACTIVATION_IDS:
            raise self.fail(f"{role} neurons have activation function {function}, not a FANN activation", line=line)
        name = FROM_FANN.get((function, steepness))
        if name is None or name not in allowed:
            wanted = ", ".join(f"{_describe(*TO_FANN[a])} ({a})" for a in allowed)
            raise self.fail(
                f"{role} neurons use {_describe(function, steepness)}, which has no bpcore "
                f"equivalent; bpcore reads {role} neurons of {wanted}",
                line=line,
            )
        return name

    def network(self, sizes, weights, activation, output_activation):
        return Network.from_arrays(
            [W[:, :-1] for W in weights], [W[:, -1] for W in weights],
            activation=activation, output_activation=output_activation, dtype=np.float64,
        )


def _describe(function, steepness):
    name = ACTIVATION_IDS.get(function, f"activation {function}")
    return f"{name} with steepness {steepness:g}"


# ------------------------------------------------------------------ writing
def _number(x):
    """``%.20e`` (libfann's format for a double), locale-independent."""
    return format(float(x), ".20e")


def save(net, path, *, scale=None):
    """Write ``net`` to ``path`` as a ``FANN_FLO_2.1`` file that libfann 2.2
    and later load with ``fann_create_from_file``, atomically.

    The hidden activation must be sigmoid or tanh and the output activation
    sigmoid or identity (FANN 2.2 has no ReLU and no softmax); anything else
    raises ValueError before anything is written. ``scale`` (a
    :class:`FannScale`, e.g. from :func:`load_with_scale`) is written as the
    file's scale block. FANN's training settings are written with the values
    ``fann_create_standard`` gives.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a bpcore.Network; got {type(net).__name__}")
    net._sync()  # the weights as the network sees them, checked finite
    hidden_layers = len(net.layer_sizes) - 2
    if hidden_layers and net.activation not in _HIDDEN:
        raise ValueError(
            f"a FANN file cannot hold {net.activation} hidden units: FANN 2.2 has no equivalent "
            f"(it can hold {', '.join(_HIDDEN)})"
        )
    if net.output_activation not in _OUTPUT:
        raise ValueError(
            f"a FANN file cannot hold {net.output_activation} output units: FANN 2.2 has no "
            f"equivalent (it can hold {', '.join(_OUTPUT)})"
        )
    scale_lines = _scale_lines(scale, net)
    sizes = [n + 1 for n in net.layer_sizes]  # FANN counts each layer's bias neuron
    lines = [VERSION]
    for key, _, default in _SETTINGS:
        lines.append(f"{key}={len(sizes) if key == 'num_layers' else default}")
    lines.append("layer_sizes=" + "".join(f"{n} " for n in sizes))
    lines.extend(scale_lines)
    unused = f"(0, 0, {_number(0.0)}) "
    neurons = [unused * sizes[0]]
    for l, n_in in enumerate(sizes[:-1]):
        name = net.activation if l < hidden_layers else net.output_activation
        function, steepness = TO_FANN[name]
        neurons.append(f"({n_in}, {function}, {_number(steepness)}) " * (sizes[l + 1] - 1) + unused)
    lines.append(f"{_NEURONS_KEY}=" + "".join(neurons))
    first = np.concatenate([[0], np.cumsum(sizes)])
    connections = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        sources = range(first[l], first[l + 1])
        for row, bias in zip(W.tolist(), b.tolist()):
            connections.extend(f"({s}, {_number(w)}) " for s, w in zip(sources, [*row, bias]))
    lines.append(f"{_CONNECTIONS_KEY}=" + "".join(connections))
    text = "\n".join(lines) + "\n"
    with atomic_write(path, "w", encoding="ascii", newline="\n") as f:
        f.write(text)


def _scale_lines(scale, net):
    if scale is None:
        return ["scale_included=0"]
    if not isinstance(scale, FannScale):
        raise TypeError(f"scale must be a bpcore.fann.FannScale or None; got {type(scale).__name__}")
    lines = ["scale_included=1"]
    for field, values in zip(_SCALE_FIELDS, scale):
        count = net.n_inputs if field.endswith("_in") else net.n_outputs
        values = np.asarray(values)
        if values.shape != (count,) or values.dtype.kind not in "fiu" or not np.isfinite(values).all():
            raise ValueError(
                f"scale.{field} must be {count} finite numbers (one per "
                f"{'input' if field.endswith('_in') else 'output'}); got {values!r}"
            )
        lines.append(f"scale_{field}=" + "".join(f"{_number(v)} " for v in values.tolist()))
    return lines
