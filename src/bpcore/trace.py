"""One backpropagation step, laid out as the lecture's worked examples (§7).

``trace_step`` runs the reference trainer's three phases on one example and
records every intermediate value; ``str()`` of the result prints the lecture's
tables. Units are numbered as in the lecture: inputs 1…n_in, then each layer's
units in turn (the §7 network 3-2-1 has inputs 1-3, hidden 4-5, output 6).
"""

import dataclasses
import numbers

import numpy as np

from . import reference
from ._validation import Interval, as_float_matrix, as_targets

__all__ = ["trace_step", "StepTrace", "LayerTrace"]


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

    def __str__(self):
        return render(self)


def trace_step(net, x, t, learning_rate):
    """Trace one step of backpropagation (squared error, §5) on example ``x``
    (shape ``(n_in,)``) with target ``t`` (shape ``(n_out,)``) without changing
    ``net``. Returns a :class:`StepTrace`."""
    learning_rate = Interval(numbers.Real, 0, None, closed="neither").check("learning_rate", learning_rate)
    x = as_float_matrix(np.reshape(x, (1, -1)), np.float64, name="x", n_columns=net.n_inputs)[0]
    t = as_targets(np.reshape(t, (1, -1)), np.float64, name="t", n_examples=1,
                   n_outputs=net.n_outputs)[0]
    net._sync()
    act, out_act = net.activation, net.output_activation
    layers = reference._read_layers(net)
    nets, outputs = reference.forward(layers, x.tolist(), act, out_act)
    deltas = reference.backward(layers, outputs, t.tolist(), "squared_error", act, out_act)
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
                     error_before=half_squared(outputs[-1]), error_after=half_squared(outputs_after[-1]))


def _num(v):
    return f"{v:>11.5g}"


def render(trace):
    """The lecture's tables for one step (values with 5 significant digits)."""
    lines = [f"One backpropagation step, learning rate η = {trace.learning_rate:g}"]
    lines.append("Input: " + ", ".join(f"x_{i + 1} = {v:g}" for i, v in enumerate(trace.x))
                 + "   Target: " + ", ".join(f"t = {v:g}" for v in trace.t))
    lines += ["", "Forward pass (net_j = Σ_i w_ji x_i + b_j, o_j = f(net_j))",
              f"{'unit':>6}{'net_j':>11}{'o_j':>11}"]
    for layer in trace.layers:
        for j, unit in enumerate(layer.units):
            lines.append(f"{unit:>6}{_num(layer.net[j])}{_num(layer.output[j])}")
    lines += ["", "Backward pass (output δ_k = f'(o_k)(t_k − o_k), hidden δ_h = f'(o_h) Σ_k w_kh δ_k;"
              " for sigmoid units f'(o) = o(1 − o))",
              f"{'unit':>6}{'δ_j':>11}"]
    for layer in reversed(trace.layers):
        for j, unit in enumerate(layer.units):
            lines.append(f"{unit:>6}{_num(layer.delta[j])}")
    lines += ["", "Weight updates (Δw_ji = η δ_j x_ji; 'w 1→4' is the weight from unit 1 to unit 4)",
              f"{'weight':>10}{'old':>11}{'change':>11}{'new':>11}"]
    for layer in trace.layers:
        for j, unit in enumerate(layer.units):
            for i, source in enumerate(layer.inputs):
                lines.append(f"{f'w {source}→{unit}':>10}{_num(layer.weight_old[j, i])}"
                             f"{_num(layer.weight_change[j, i])}{_num(layer.weight_new[j, i])}")
    for layer in trace.layers:
        for j, unit in enumerate(layer.units):
            lines.append(f"{f'b_{unit}':>10}{_num(layer.bias_old[j])}"
                         f"{_num(layer.bias_change[j])}{_num(layer.bias_new[j])}")
    lines += ["", f"{'':>10}{'before':>11}{'after':>11}{'change':>11}"]
    for k, unit in enumerate(trace.layers[-1].units):
        before, after = trace.output_before[k], trace.output_after[k]
        lines.append(f"{f'o_{unit}':>10}{_num(before)}{_num(after)}{_num(after - before)}")
        e0, e1 = abs(trace.t[k] - before), abs(trace.t[k] - after)
        lines.append(f"{f'|t−o_{unit}|':>10}{_num(e0)}{_num(e1)}{_num(e1 - e0)}")
    lines.append(f"{'E':>10}{_num(trace.error_before)}{_num(trace.error_after)}"
                 f"{_num(trace.error_after - trace.error_before)}")
    return "\n".join(lines)
