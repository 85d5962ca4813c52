"""Pictures of a network in the style of the lecture's Figure 3: inputs on the
left, then the hidden layers, then the outputs; units as circles with their
values, connections labelled with their weights.

A picture is first laid out as a list of shapes (:class:`Picture`); ``svg()``
writes it as SVG text (no dependency), ``draw_matplotlib`` draws the same
shapes on a matplotlib figure (for PNG). Numbers are shown with
``DIGITS`` significant digits.
"""

import dataclasses
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Picture", "network_picture", "LABEL_LIMIT", "DIGITS"]

# Up to this many units in every layer, every unit and connection is labelled;
# beyond it the connections are drawn without labels (the numbers stay in the
# text trace) and the units shrink to dots.
LABEL_LIMIT = 8
DIGITS = 4

_INCREASE, _DECREASE, _NEUTRAL = "#1f63b4", "#c0392b", "#9a9a9a"
_FONT = 11


def number(v, digits=DIGITS):
    """``v`` with ``digits`` significant digits (ASCII minus sign, no '+0')."""
    text = f"{v:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def colour(value):
    """Blue for a positive value, red for a negative one, grey for zero."""
    return _INCREASE if value > 0 else _DECREASE if value < 0 else _NEUTRAL


@dataclasses.dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    width: float
    ident: str = ""
    title: str = ""


@dataclasses.dataclass
class Circle:
    x: float
    y: float
    r: float
    fill: str
    ident: str = ""
    title: str = ""


@dataclasses.dataclass
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"   # "start", "middle" or "end"
    size: float = _FONT
    bold: bool = False
    owner: str = ""          # the ident of the unit or connection it labels


@dataclasses.dataclass
class Picture:
    width: float
    height: float
    shapes: list

    def svg(self):
        """The picture as a standalone SVG document (a str)."""
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" height="{self.height:.0f}" '
            f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" font-family="DejaVu Sans, Arial, sans-serif" '
            f'font-size="{_FONT}">',
            f'<rect width="{self.width:.0f}" height="{self.height:.0f}" fill="white"/>',
        ]
        for shape in self.shapes:
            ident = f" id={quoteattr(shape.ident)}" if getattr(shape, "ident", "") else ""
            title = f"<title>{escape(shape.title)}</title>" if getattr(shape, "title", "") else ""
            if isinstance(shape, Line):
                out.append(
                    f'<line{ident} x1="{shape.x1:.1f}" y1="{shape.y1:.1f}" x2="{shape.x2:.1f}" '
                    f'y2="{shape.y2:.1f}" stroke="{shape.colour}" stroke-width="{shape.width:.2f}" '
                    f'stroke-linecap="round">{title}</line>'
                )
            elif isinstance(shape, Circle):
                out.append(
                    f'<circle{ident} cx="{shape.x:.1f}" cy="{shape.y:.1f}" r="{shape.r:.1f}" '
                    f'fill="{shape.fill}" stroke="#333333">{title}</circle>'
                )
            else:
                owner = f" class={quoteattr('label ' + shape.owner)}" if shape.owner else ""
                weight = ' font-weight="bold"' if shape.bold else ""
                out.append(
                    f'<text{owner} x="{shape.x:.1f}" y="{shape.y:.1f}" text-anchor="{shape.anchor}" '
                    f'font-size="{shape.size:g}"{weight} paint-order="stroke" stroke="white" '
                    f'stroke-width="3">{escape(shape.text)}</text>'
                )
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def draw_matplotlib(self, f, fmt="png"):
        """Draw the same shapes with matplotlib into the binary file ``f``."""
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle as CirclePatch

        dpi = 100
        figure = Figure(figsize=(self.width / dpi, self.height / dpi), dpi=dpi)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, self.width)
        axes.set_ylim(self.height, 0)  # SVG's y axis points down
        axes.set_axis_off()
        halo = None
        try:
            from matplotlib import patheffects

            halo = [patheffects.withStroke(linewidth=3, foreground="white")]
        except ImportError:  # pragma: no cover - part of every matplotlib
            pass
        points = 72 / dpi  # SVG user units are pixels at this dpi
        for shape in self.shapes:
            if isinstance(shape, Line):
                axes.plot([shape.x1, shape.x2], [shape.y1, shape.y2], color=shape.colour,
                          linewidth=shape.width * points, solid_capstyle="round", zorder=1)
            elif isinstance(shape, Circle):
                axes.add_patch(CirclePatch((shape.x, shape.y), shape.r, facecolor=shape.fill,
                                           edgecolor="#333333", zorder=2))
            else:
                axes.text(shape.x, shape.y, shape.text, ha={"start": "left", "end": "right"}.get(
                    shape.anchor, "center"), va="baseline", fontsize=shape.size * points,
                    fontweight="bold" if shape.bold else "normal", zorder=3, path_effects=halo)
        figure.savefig(f, format=fmt, dpi=dpi)


def network_picture(sizes, *, first_unit=1, unit_lines, bias_text, edge_text, edge_title,
                    edge_change, unit_title, header=(), legend=()):
    """Lay out a network of ``sizes`` (units per layer, inputs first).

    Callbacks give the numbers: ``unit_lines(c, j)`` the lines under unit j of
    column c (column 0 = inputs), ``bias_text(l, j)`` the bias of unit j of
    weight layer l, ``edge_text(l, j, i)`` / ``edge_title(l, j, i)`` the label
    and tooltip of the connection from unit i to unit j, ``edge_change(l, j, i)``
    the signed value its colour and width show, ``unit_title(c, j)`` a unit's
    tooltip. ``header`` and ``legend`` are lines of text above and below."""
    labelled = max(sizes) <= LABEL_LIMIT
    column_gap, row_gap, radius = (250.0, 140.0, 18.0) if labelled else (180.0, 14.0, 4.0)
    rows = max(sizes)
    top = 24.0 + 16.0 * len(header) + (40.0 if labelled else 10.0)
    width = 80.0 + column_gap * (len(sizes) - 1) + 160.0
    height = top + row_gap * rows + 20.0 + 16.0 * len(legend)
    left = 90.0

    def position(c, j):
        return left + column_gap * c, top + row_gap * (j + (rows - sizes[c]) / 2.0) + row_gap / 2.0 - 30.0

    numbers = [list(range(first_unit, first_unit + sizes[0]))]
    for n in sizes[1:]:
        start = numbers[-1][-1] + 1
        numbers.append(list(range(start, start + n)))

    shapes, labels = [], []
    for i, text in enumerate(header):
        shapes.append(Text(12.0, 20.0 + 16.0 * i, text, anchor="start", bold=(i == 0)))
    largest = max((abs(edge_change(l, j, i)) for l in range(len(sizes) - 1)
                   for j in range(sizes[l + 1]) for i in range(sizes[l])), default=0.0)
    for l in range(len(sizes) - 1):
        n_in, n_out = sizes[l], sizes[l + 1]
        for j in range(n_out):
            x2, y2 = position(l + 1, j)
            for i in range(n_in):
                x1, y1 = position(l, i)
                change = edge_change(l, j, i)
                stroke = 1.0 + (4.0 * abs(change) / largest if largest > 0 else 0.0)
                ident = f"w{numbers[l][i]}-{numbers[l + 1][j]}"
                shapes.append(Line(x1 + radius, y1, x2 - radius, y2, colour(change), stroke,
                                   ident, edge_title(l, j, i)))
                if labelled:
                    # Spread the labels of one unit's inputs along their lines so that
                    # they do not sit on top of each other where the lines converge.
                    at = 0.28 + 0.44 * ((i + j * 0.5) % n_in + 0.5) / n_in
                    labels.append(Text(x1 + (x2 - x1) * at, y1 + (y2 - y1) * at - 3.0,
                                       edge_text(l, j, i), size=_FONT - 1, owner=ident))
    for c, n in enumerate(sizes):
        for j in range(n):
            x, y = position(c, j)
            ident = f"unit{numbers[c][j]}"
            fill = "#f2f2f2" if c == 0 else "#fff4d6" if c < len(sizes) - 1 else "#e3f0dc"
            shapes.append(Circle(x, y, radius, fill, ident, unit_title(c, j)))
            if not labelled:
                continue
            labels.append(Text(x, y + 4.0, str(numbers[c][j]), bold=True, owner=ident))
            for k, text in enumerate(unit_lines(c, j)):
                labels.append(Text(x, y + radius + 14.0 + 13.0 * k, text, owner=ident))
            if c > 0:
                labels.append(Text(x, y - radius - 6.0, bias_text(c - 1, j), owner=ident))
    for k, text in enumerate(legend):
        labels.append(Text(12.0, height - 8.0 - 16.0 * (len(legend) - 1 - k), text, anchor="start",
                           size=_FONT - 1))
    return Picture(width, height, shapes + labels)
