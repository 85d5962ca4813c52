"""The step picture (``StepTrace.to_svg``, the lecture's Figure 3 layout), the
network diagram (``Network._repr_svg_``), repeated steps, and ``trace_step``
refusing what ``train`` refuses."""

import os
import pathlib
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import bpcore
from bpcore import cli

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden" / "lecture_s7_step.svg"
SVG = "{http://www.w3.org/2000/svg}"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")

# Table 2 of the lecture (§7), as printed there: element id in the picture
# (w<from>-<to> for a connection, unit<j> for a unit and its bias) and the
# values of its row: old, new, change.
TABLE_2 = {
    "w1-4": ("0.200", "0.192", "-0.008"), "w2-4": ("0.400", "0.400", "0.000"),
    "w3-4": ("-0.500", "-0.508", "-0.008"), "w1-5": ("-0.300", "-0.306", "-0.006"),
    "w2-5": ("0.100", "0.100", "0.000"), "w3-5": ("0.200", "0.194", "-0.006"),
    "w4-6": ("-0.300", "-0.261", "+0.039"), "w5-6": ("-0.200", "-0.138", "+0.062"),
    "unit4": ("-0.400", "-0.408", "-0.008"), "unit5": ("0.200", "0.194", "-0.006"),
    "unit6": ("0.100", "0.218", "+0.118"),
}
# Its last rows: the output and the error |t − o| before and after the step.
TABLE_2_OUTPUT = [("0.474", "0.515", "+0.041"), ("0.526", "0.485", "-0.041")]
# §7's intermediate values of each unit: o_j and δ_j.
UNIT_VALUES = {"unit4": ("0.332", "-0.0087"), "unit5": ("0.525", "-0.0065"), "unit6": ("0.474", "0.1311")}


def lecture_trace():
    spec = cli.LECTURE_EXAMPLE
    net = bpcore.Network.from_arrays([np.array(w, float) for w in spec["weights"]],
                                     [np.array(b, float) for b in spec["biases"]])
    return bpcore.trace_step(net, spec["input"], spec["target"], spec["learning_rate"])


def parse(svg):
    return ET.fromstring(svg.encode("utf-8"))


def texts_of(root, ident):
    """The text of element ``ident`` (its tooltip) and of every label it owns."""
    parts = []
    for element in root.iter():
        if element.get("id") == ident or ident in (element.get("class") or "").split():
            parts.append("".join(element.itertext()))
    return " ".join(parts)


def shows(text, printed):
    """Does ``text`` hold a number, with at least 4 significant digits (or
    exactly the printed value), within one unit of the last printed digit of
    ``printed`` (the lecture carried rounded intermediates: its δ_6 = 0.1311
    is 0.13117 unrounded)?"""
    decimals = len(printed.split(".")[1])
    for token in NUMBER.findall(text.replace("−", "-")):
        digits = len(token.lstrip("+-").replace(".", "").lstrip("0").split("e")[0])
        close = abs(float(token) - float(printed)) <= 10.0 ** -decimals * (1 + 1e-9)
        if close and (digits >= 4 or float(token) == float(printed)):
            return True
    return False


def test_s7_step_picture_is_valid_svg_with_every_value_of_table_2():
    """§7, Figure 3 and Table 2: every weight and bias with its old value,
    change and new value, every unit's o_j and δ_j, the output and the error
    before and after, each to at least 4 significant digits."""
    root = parse(lecture_trace().to_svg())
    assert root.tag == SVG + "svg"
    for ident, values in TABLE_2.items():
        text = texts_of(root, ident)
        assert text, ident
        for printed in values:
            assert shows(text, printed), (ident, printed, text)
    for ident, values in UNIT_VALUES.items():
        text = texts_of(root, ident)
        assert all(shows(text, printed) for printed in values), (ident, text)
    header = " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
    for before, after, _change in TABLE_2_OUTPUT:
        assert shows(header, before) and shows(header, after)
    assert "x = (1, 0, 1)" in header and "target t = (1)" in header


def test_s7_step_picture_colours_and_widths_follow_the_changes():
    """§7: the output weights rose (blue) and changed the most (widest); the
    weights from x_2 = 0 did not change (grey, thinnest)."""
    root = parse(lecture_trace().to_svg())
    lines = {line.get("id"): line for line in root.iter(SVG + "line")}
    assert lines["w4-6"].get("stroke") == lines["w5-6"].get("stroke") == "#1f63b4"
    assert lines["w1-4"].get("stroke") == "#c0392b"
    assert lines["w2-4"].get("stroke") == lines["w2-5"].get("stroke") == "#9a9a9a"
    width = {ident: float(line.get("stroke-width")) for ident, line in lines.items()}
    assert max(width, key=width.get) == "w5-6" and width["w2-4"] == min(width.values())


def test_s7_step_picture_matches_the_golden_file():
    """§7 (the lecture's Figure 3 example): the drawing stays as reviewed.
    Regenerate with BPCORE_REGENERATE_GOLDEN=1 after a deliberate change."""
    svg = lecture_trace().to_svg()
    if os.environ.get("BPCORE_REGENERATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(svg, encoding="utf-8")
    assert svg == GOLDEN.read_text(encoding="utf-8")


def test_big_layers_are_drawn_without_connection_labels():
    net = bpcore.Network((12, 9, 3), seed=0)
    rng = np.random.default_rng(0)
    trace = bpcore.trace_step(net, rng.random(12), rng.random(3), 0.5)
    root = parse(trace.to_svg())
    assert len(list(root.iter(SVG + "line"))) == 12 * 9 + 9 * 3
    labels = [t for t in root.iter(SVG + "text") if (t.get("class") or "").startswith("label")]
    assert labels == []  # the numbers stay in str(trace) and in each line's tooltip
    assert len(list(root.iter(SVG + "title"))) == 12 * 9 + 9 * 3 + 12 + 9 + 3


def test_jupyter_shows_the_step_and_the_network_as_svg():
    trace = lecture_trace()
    assert trace._repr_svg_() == trace.to_svg()
    net = bpcore.Network.from_arrays([[[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]], [[-0.3, -0.2]]], [[-0.4, 0.2], [0.1]])
    root = parse(net._repr_svg_())
    lines = {line.get("id"): line for line in root.iter(SVG + "line")}
    assert set(lines) == {k for k in TABLE_2 if k.startswith("w")}
    for ident, (old, _new, _change) in TABLE_2.items():
        assert shows(texts_of(root, ident), old), ident  # the current weights and biases
    assert lines["w1-4"].get("stroke") == "#1f63b4" and lines["w3-4"].get("stroke") == "#c0392b"
    # a big network stays a readable drawing, without labels
    big = parse(bpcore.Network((64, 16, 10), seed=0)._repr_svg_())
    assert len(list(big.iter(SVG + "line"))) == 64 * 16 + 16 * 10


def test_picture_as_png(tmp_path):
    pytest.importorskip("matplotlib", reason="PNG pictures need matplotlib (extra 'plot')")
    path = tmp_path / "step.png"
    with open(path, "wb") as f:
        lecture_trace().save_picture(f, "png")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with open(tmp_path / "x", "wb") as f, pytest.raises(ValueError, match="a step picture is svg or png; got 'gif'"):
        lecture_trace().save_picture(f, "gif")
    assert (tmp_path / "x").read_bytes() == b""


def test_repeated_steps_move_the_output_towards_the_target():
    """§7's verification repeated: o_6 goes 0.474 → 0.515 in the first step and
    keeps rising; each step starts from the weights the last one left."""
    spec = cli.LECTURE_EXAMPLE
    net = bpcore.Network.from_arrays([np.array(w, float) for w in spec["weights"]],
                                     [np.array(b, float) for b in spec["biases"]])
    before = net.params_vector()
    traces = bpcore.trace.trace_steps(net, spec["input"], spec["target"], 0.9, 4)
    assert np.array_equal(net.params_vector(), before)
    assert round(traces[0].output_before[0], 3) == 0.474 and round(traces[0].output_after[0], 3) == 0.515
    outputs = [t.output_after[0] for t in traces]
    assert outputs == sorted(outputs) and len(set(outputs)) == 4
    for earlier, later in zip(traces, traces[1:]):
        assert later.output_before[0] == pytest.approx(earlier.output_after[0], abs=1e-15)
        assert np.array_equal(later.layers[0].weight_old, earlier.layers[0].weight_new)
    # the same as training on the example four times
    bpcore.reference.train(net, np.atleast_2d(spec["input"]), np.atleast_2d(spec["target"]),
                           learning_rate=0.9, epochs=4, shuffle=False)
    assert net.weights[1] == pytest.approx(traces[-1].layers[1].weight_new, abs=1e-15)
    with pytest.raises(ValueError, match="steps must be"):
        bpcore.trace.trace_steps(net, spec["input"], spec["target"], 0.9, 0)


@pytest.mark.parametrize("output_activation", ["softmax"])
def test_trace_step_refuses_what_train_refuses(output_activation):
    """The squared error does not go with a softmax output: trace_step says
    exactly what train says (one check, in _names)."""
    net = bpcore.Network((2, 3, 2), output_activation=output_activation, seed=0)
    x, t = np.array([[0.5, 0.1]]), np.array([[1.0, 0.0]])
    with pytest.raises(ValueError) as from_train:
        bpcore.train(net, x, t, loss="squared_error")
    with pytest.raises(ValueError) as from_trace:
        bpcore.trace_step(net, x[0], t[0], 0.5)
    assert str(from_trace.value) == str(from_train.value)
    assert "does not go with output_activation='softmax'" in str(from_trace.value)


@pytest.mark.parametrize("bad, match", [
    (dict(learning_rate=0.0), "learning_rate must be"),
    (dict(t=[1e300, 0.0, 0.0]), "t has targets up to 1e\\+300 in magnitude"),
    (dict(net="not a network"), "net must be a bpcore.Network"),
])
def test_trace_step_makes_trains_other_checks(bad, match):
    args = dict(net=bpcore.Network((2, 3), output_activation="identity", seed=0), x=[0.5, 0.1],
                t=[1.0, 0.0, 0.0], learning_rate=0.5)
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        bpcore.trace_step(args["net"], args["x"], args["t"], args["learning_rate"])
