"""One backpropagation step, laid out as the lecture's worked examples (§7).

``trace_step`` runs the reference trainer's three phases on one example and
records every intermediate value; ``str()`` of the result prints the lecture's
tables. Units are numbered as in the lecture: inputs 1…n_in, then each layer's
units in turn (the §7 network 3-2-1 has inputs 1-3, hidden 4-5, output 6).
"""

import dataclasses
import numbers

import numpy as np

from . import _names, _picture, _training, reference
from ._validation import Interval, as_float_matrix, as_targets

__all__ = ["trace_step", "trace_steps", "StepTrace", "LayerTrace", "PICTURE_FORMATS"]

# The loss a traced step uses (the lecture's E_d = ½ Σ_k (t_k − o_k)², §5).
_LOSS = "squared_error"
# File formats of StepTrace.save_picture: SVG is written directly, PNG by matplotlib.
PICTURE_FORMATS = ("svg", "png")
_DIGITS = Interval(numbers.Integral, 1, 17, closed="both")


@dataclasses.dataclass
class LayerTrace:
    """One layer of units during a step. Arrays of shape ``(n_out,)`` and, for
    weights, ``(n_out, n_in)`` with ``[j, i]`` the weight from input unit i to unit j."""

    units: list          # lecture numbers of this layer's units
    inputs: list         # lecture numbers of the units that feed it
    net: np.ndarray      # net_j
    output: np.ndarray   # o_j
    delta: np.ndarray    # δ_j
    weight_old: np.ndarray
    weight_change: np.ndarray
    weight_new: np.ndarray
    bias_old: np.ndarray
    bias_change: np.ndarray
    bias_new: np.ndarray


@dataclasses.dataclass
class StepTrace:
    """Everything one step computes (see :func:`trace_step`)."""

    x: np.ndarray
    t: np.ndarray
    learning_rate: float
    layers: list
    output_before: np.ndarray
    output_after: np.ndarray
    error_before: float   # E_d = ½ Σ_k (t_k − o_k)² before the step
    error_after: float    # the same with the new weights

    activation: str = "sigmoid"
    output_activation: str = "sigmoid"

    def __str__(self):
        return render(self)

    def format(self, digits=5):
        """The lecture's tables with ``digits`` significant digits (1 to 17)."""
        return render(self, digits)

    def to_svg(self):
        """The step drawn as the lecture's Figure 3 (an SVG document, a str):
        inputs on the left, each unit with net_j, o_j and δ_j, each connection
        with w_ji old → new (biases above their units), coloured by the sign of
        its change (blue up, red down) and as wide as the change is large; the
        example, the target and the error before and after on top. With more
        than 8 units in a layer the connections carry no labels (see ``str()``
        for the numbers). Every connection's tooltip (SVG ``<title>``) holds its
        old value, change and new value."""
        return _step_picture(self).svg()

    def _repr_svg_(self):  # Jupyter shows the picture inline
        return self.to_svg()

    def save_picture(self, f, fmt):
        """Write the picture into the binary file ``f`` as ``fmt``: "svg", or
        "png" (needs matplotlib)."""
        fmt = _picture_format(fmt)
        picture = _step_picture(self)
        if fmt == "svg":
            f.write(picture.svg().encode("utf-8"))
        else:
            picture.draw_matplotlib(f, fmt)


def _picture_format(fmt):
    if fmt not in PICTURE_FORMATS:
        raise ValueError(f"a step picture is {' or '.join(PICTURE_FORMATS)}; got {fmt!r}")
    return fmt


def trace_step(net, x, t, learning_rate):
    """Trace one step of backpropagation (squared error, §5) on example ``x``
    (shape ``(n_in,)``) with target ``t`` (shape ``(n_out,)``) without changing
    ``net``. Returns a :class:`StepTrace`.

    Makes the checks that ``train`` makes: a network and output activation that
    the squared error goes with (a softmax output is refused), a learning rate
    > 0, and finite data of the network's shape."""
    _training.check_network(net)
    learning_rate = _training.TRAIN_CONSTRAINTS["learning_rate"].check("learning_rate", learning_rate)
    _names.check_loss_output(_LOSS, net.output_activation)
    x = as_float_matrix(np.reshape(x, (1, -1)), np.float64, name="x", n_columns=net.n_inputs)[0]
    t = as_targets(np.reshape(t, (1, -1)), np.float64, name="t", n_examples=1,
                   n_outputs=net.n_outputs)
    _training.check_targets(net, _LOSS, t, "t")
    t = t[0]
    net._sync()
    act, out_act = net.activation, net.output_activation
    layers = reference._read_layers(net)
    nets, outputs = reference.forward(layers, x.tolist(), act, out_act)
    deltas = reference.backward(layers, outputs, t.tolist(), _LOSS, act, out_act)
    gradient = [([[d_j * x_i for x_i in outputs[l]] for d_j in delta_j], list(delta_j))
                for l, delta_j in enumerate(deltas)]
    new_layers, _ = reference.update(layers, reference._zeros_like(layers), gradient,
                                     learning_rate, 0.0, 0.0, None)
    _, outputs_after = reference.forward(new_layers, x.tolist(), act, out_act)

    traced, first = [], 1
    for l, ((W, b), (W_new, b_new)) in enumerate(zip(layers, new_layers)):
        n_out, n_in = len(W), len(W[0])
        inputs = list(range(first, first + n_in))
        first += n_in
        W, W_new, b, b_new = map(np.array, (W, W_new, b, b_new))
        traced.append(LayerTrace(
            units=list(range(first, first + n_out)), inputs=inputs,
            net=np.array(nets[l]), output=np.array(outputs[l + 1]), delta=np.array(deltas[l]),
            weight_old=W, weight_change=W_new - W, weight_new=W_new,
            bias_old=b, bias_change=b_new - b, bias_new=b_new,
        ))

    def half_squared(o):
        return 0.5 * float(np.sum((t - np.asarray(o)) ** 2))

    return StepTrace(x=x, t=t, learning_rate=learning_rate, layers=traced,
                     output_before=np.array(outputs[-1]), output_after=np.array(outputs_after[-1]),
                     error_before=half_squared(outputs[-1]), error_after=half_squared(outputs_after[-1]),
                     activation=act, output_activation=out_act)


def trace_steps(net, x, t, learning_rate, steps):
    """``steps`` (>= 1) steps on the same example, each starting from the
    weights the one before left (``net`` itself is not changed): a list of
    :class:`StepTrace`. The lecture's check that the output moves towards the
    target (§7, o_6 from 0.474 to 0.515) repeated."""
    steps = Interval(numbers.Integral, 1, None, closed="left").check("steps", steps)
    traces = [trace_step(net, x, t, learning_rate)]
    for _ in range(steps - 1):
        last = traces[-1]
        stepped = type(net).from_arrays(
            [layer.weight_new for layer in last.layers], [layer.bias_new for layer in last.layers],
            activation=last.activation, output_activation=last.output_activation,
        )
        traces.append(trace_step(stepped, x, t, learning_rate))
    return traces


def render(trace, digits=5):
    """The lecture's tables for one step (values with ``digits`` significant digits)."""
    digits = _DIGITS.check("digits", digits)
    width = max(11, digits + 7)

    def _num(v):
        return f"{v:>{width}.{digits}g}"

    lines = [f"One backpropagation step, learning rate η = {trace.learning_rate:g}"]
    lines.append("Input: " + ", ".join(f"x_{i + 1} = {v:g}" for i, v in enumerate(trace.x))
                 + "   Target: " + ", ".join(f"t = {v:g}" for v in trace.t))
    lines += ["", "Forward pass (net_j = Σ_i w_ji x_i + b_j, o_j = f(net_j))",
              f"{'unit':>6}{'net_j':>{width}}{'o_j':>{width}}"]
    for layer in trace.layers:
        for j, unit in enumerate(layer.units):
            lines.append(f"{unit:>6}{_num(layer.net[j])}{_num(layer.output[j])}")
    lines += ["", "Backward pass (output δ_k = f'(o_k)(t_k − o_k), hidden δ_h = f'(o_h) Σ_k w_kh δ_k;"
              " for sigmoid units f'(o) = o(1 − o))",
              f"{'unit':>6}{'δ_j':>{width}}"]
    for layer in reversed(trace.layers):
        for j, unit in enumerate(layer.units):
            lines.append(f"{unit:>6}{_num(layer.delta[j])}")
    lines += ["", "Weight updates (Δw_ji = η δ_j x_ji; 'w 1→4' is the weight from unit 1 to unit 4)",
              f"{'weight':>10}{'old':>{width}}{'change':>{width}}{'new':>{width}}"]
    for layer in trace.layers:
        for j, unit in enumerate(layer.units):
            for i, source in enumerate(layer.inputs):
                lines.append(f"{f'w {source}→{unit}':>10}{_num(layer.weight_old[j, i])}"
                             f"{_num(layer.weight_change[j, i])}{_num(layer.weight_new[j, i])}")
    for layer in trace.layers:
        for j, unit in enumerate(layer.units):
            lines.append(f"{f'b_{unit}':>10}{_num(layer.bias_old[j])}"
                         f"{_num(layer.bias_change[j])}{_num(layer.bias_new[j])}")
    lines += ["", f"{'':>10}{'before':>{width}}{'after':>{width}}{'change':>{width}}"]
    for k, unit in enumerate(trace.layers[-1].units):
        before, after = trace.output_before[k], trace.output_after[k]
        lines.append(f"{f'o_{unit}':>10}{_num(before)}{_num(after)}{_num(after - before)}")
        e0, e1 = abs(trace.t[k] - before), abs(trace.t[k] - after)
        lines.append(f"{f'|t−o_{unit}|':>10}{_num(e0)}{_num(e1)}{_num(e1 - e0)}")
    lines.append(f"{'E':>10}{_num(trace.error_before)}{_num(trace.error_after)}"
                 f"{_num(trace.error_after - trace.error_before)}")
    return "\n".join(lines)


def _step_picture(trace):
    """The :class:`~bpcore._picture.Picture` of one step."""
    layers = trace.layers
    sizes = [len(trace.x), *(len(layer.units) for layer in layers)]
    num = _picture.number

    def unit_lines(c, j):
        if c == 0:
            return [f"x = {num(trace.x[j])}"]
        layer = layers[c - 1]
        return [f"net {num(layer.net[j])}", f"o {num(layer.output[j])}", f"δ {num(layer.delta[j])}"]

    def unit_title(c, j):
        if c == 0:
            return f"input {j + 1}: x = {float(trace.x[j])!r}"
        layer = layers[c - 1]
        net_j, o_j, delta_j, b_old, b_change, b_new = (float(v[j]) for v in (
            layer.net, layer.output, layer.delta, layer.bias_old, layer.bias_change, layer.bias_new))
        return (f"unit {layer.units[j]}: net = {net_j!r}, o = {o_j!r}, δ = {delta_j!r}; "
                f"bias {b_old!r} + {b_change!r} = {b_new!r}")

    def bias_text(l, j):
        layer = layers[l]
        return f"b {num(layer.bias_old[j])} → {num(layer.bias_new[j])} (Δ {num(layer.bias_change[j])})"

    def edge_text(l, j, i):
        layer = layers[l]
        return f"{num(layer.weight_old[j, i])} → {num(layer.weight_new[j, i])}"

    def edge_title(l, j, i):
        layer = layers[l]
        return (f"w {layer.inputs[i]}→{layer.units[j]}: old {num(layer.weight_old[j, i])}, "
                f"change {num(layer.weight_change[j, i])}, new {num(layer.weight_new[j, i])}")

    outputs = layers[-1].units
    header = [
        f"One backpropagation step (squared error), learning rate η = {trace.learning_rate:g}",
        "example x = (" + ", ".join(num(v) for v in trace.x) + "), target t = ("
        + ", ".join(num(v) for v in trace.t) + ")",
        "; ".join(f"o_{u}: {num(b)} → {num(a)}, |t − o_{u}|: {num(abs(t - b))} → {num(abs(t - a))}"
                  for u, b, a, t in zip(outputs, trace.output_before, trace.output_after, trace.t)),
        f"E = ½ Σ_k (t_k − o_k)²: {num(trace.error_before)} → {num(trace.error_after)} "
        f"(change {num(trace.error_after - trace.error_before)})",
    ]
    legend = ["connections: w_ji old → new; blue = weight increased, red = decreased, "
              "grey = unchanged; width grows with |Δw_ji|"]
    return _picture.network_picture(
        sizes, unit_lines=unit_lines, bias_text=bias_text, edge_text=edge_text, edge_title=edge_title,
        edge_change=lambda l, j, i: layers[l].weight_change[j, i], unit_title=unit_title,
        header=header, legend=legend,
    )
