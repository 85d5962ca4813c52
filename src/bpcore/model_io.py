"""Saving and loading networks (``bpcore.save``, ``bpcore.load``), and the
metadata that the command line keeps in a model.

The file format itself (its entries, its header and every check made on
reading) is :mod:`bpcore._model_format`, described in ``docs/model-format.md``;
this module turns a :class:`~bpcore.Network` into a file and back. Files are
written atomically (:func:`bpcore._fileio.atomic_write`).
"""

import dataclasses

import numpy as np

from . import _model_format
from ._model_format import FORMAT_NAME, FORMAT_VERSION
from .errors import ModelFormatError
from .network import Network, check_network

__all__ = [
    "save",
    "load",
    "load_with_metadata",
    "column_metadata",
    "read_columns",
    "Columns",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]


# ------------------------------------------------------------------ save and load
def save(net, path, *, metadata=None):
    """Write ``net`` to ``path`` (exactly that name: no suffix is added) in the
    ``.npz`` model format, atomically. ``net.save(path)`` is the same.

    ``metadata`` is an optional dict with string keys whose values are either
    JSON values (str, int, float, bool, None, lists and dicts of them; no NaN)
    or NumPy float arrays of any shape (stored as arrays, finite values only,
    keys of letters, digits and ``_``). Get it back with
    :func:`load_with_metadata`. Bad arguments raise TypeError/ValueError before
    anything is written.
    """
    check_network(net)
    net._sync()  # the weights as the network sees them, checked finite
    _model_format.write(net, path, metadata)


def load(path):
    """The :class:`~bpcore.Network` stored at ``path`` by :func:`save` / ``Network.save``.

    Raises :class:`~bpcore.ModelFormatError` (a ValueError) naming the problem
    when the file is not a valid bpcore model (not an ``.npz``, truncated,
    corrupted, written by a newer bpcore, or edited so that it no longer
    matches its header), and OSError when it cannot be opened at all.
    """
    return load_with_metadata(path)[0]


def load_with_metadata(path):
    """``(network, metadata)`` from ``path``: ``metadata`` is the dict given to
    :func:`save` (JSON values and float arrays), ``{}`` when none was."""
    stored = _model_format.read(path)
    net = Network.from_arrays(
        stored.weights,
        stored.biases,
        activation=stored.header["activation"],
        output_activation=stored.header["output_activation"],
        dtype=np.dtype(stored.header["dtype"]),
    )
    return net, stored.metadata


# ------------------------------------------------------------------ the command line's metadata
# ``bpcore train`` stores, beside the network, the names of the CSV columns it
# was trained on, so that ``bpcore predict`` can find them in another file:
#
#     inputs        list of str, one per network input, in input order
#     targets       list of str: the target columns (one output each), or for a
#                   classifier the one label column
#     classes       list of str, one per output (a classifier), or None
#     input_mean    float array (n_inputs,)   } optional: the standardisation
#     input_scale   float array (n_inputs,)   } x' = (x - mean) / scale, scale > 0
#
# A model saved from Python has none of them: its inputs are taken in file order.
def column_metadata(inputs, targets, classes, standardisation=None):
    """The ``metadata`` for :func:`save` of a model trained on CSV columns:
    ``standardisation`` is None or ``(mean, scale)``."""
    metadata = {"inputs": list(inputs), "targets": list(targets), "classes": classes}
    if standardisation is not None:
        metadata["input_mean"], metadata["input_scale"] = standardisation
    return metadata


@dataclasses.dataclass
class Columns:
    """How a model's network meets CSV columns (see :func:`read_columns`)."""

    inputs: "list | None"  # None: a model saved from Python, every column in file order
    outputs: list  # names of the columns written by predict
    classes: "list | None"
    standardisation: "tuple | None"  # (mean, scale) or None


def read_columns(net, metadata, where):
    """The :class:`Columns` of a model from its metadata, checked against its
    network; a :class:`~bpcore.ModelFormatError` naming ``where`` when they do
    not fit."""

    def names(value, count):
        return isinstance(value, list) and len(value) == count and all(isinstance(v, str) for v in value)

    def bad(what):
        sizes = "-".join(map(str, net.layer_sizes))
        return ModelFormatError(f"{where}: the model's {what} do not fit its {sizes} network")

    inputs, classes = metadata.get("inputs"), metadata.get("classes")
    if inputs is None:  # saved from Python or imported: the columns in file order
        return Columns(None, [f"output_{k}" for k in range(1, net.n_outputs + 1)], None,
                       _standardisation(net, metadata, bad))
    targets = metadata.get("targets")
    if not names(inputs, net.n_inputs):
        raise bad("input column names")
    if classes is not None and not (names(classes, net.n_outputs) and names(targets, 1)):
        raise bad("class names")
    if classes is None and not names(targets, net.n_outputs):
        raise bad("target column names")
    outputs = [targets[0], *(f"prob_{c}" for c in classes)] if classes else targets
    return Columns(inputs, outputs, classes, _standardisation(net, metadata, bad))


def _standardisation(net, metadata, bad):
    """``(mean, scale)`` from the metadata, checked, or None."""
    mean, scale = metadata.get("input_mean"), metadata.get("input_scale")
    if mean is None and scale is None:
        return None
    for array in (mean, scale):
        if not isinstance(array, np.ndarray) or array.shape != (net.n_inputs,):
            raise bad("input standardisation arrays")
    if (scale <= 0).any():
        raise bad("input standardisation arrays")
    return mean, scale
