"""bpcore's versioned ``.npz`` model format, on plain arrays: writing it and
reading it back with every check, without building a Network (that is
``model_io``'s job, so that ``network`` and ``model_io`` need not import each
other: ``Network.save`` writes through this module, ``model_io.load`` builds
the Network from what it reads).

A model file is an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` arrays)
holding only plain numeric arrays, so it is read with ``allow_pickle=False``
and loading one never runs code. Its entries (see ``docs/model-format.md``):

    header         uint8 array: UTF-8 JSON text (format name and version,
                   layer sizes, activations, dtype, bpcore version, metadata)
    weights_<l>    weights[l], shape (n_{l+1}, n_l), the network's dtype
    biases_<l>     biases[l], shape (n_{l+1},), the network's dtype
    metadata_<k>   optional named float arrays (e.g. input standardisation)

Everything read from a file is checked against the header; any mismatch is a
:class:`~bpcore.ModelFormatError` naming the problem. Files are written
atomically (:func:`bpcore._fileio.atomic_write`).
"""

import dataclasses
import json
import os
import re

import numpy as np

from . import _names
from ._fileio import atomic_write
from ._version import __version__
from .errors import ModelFormatError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "StoredModel", "write", "read"]

FORMAT_NAME = "bpcore-model"
FORMAT_VERSION = 1

_ZIP_MAGIC = b"PK\x03\x04"
_ARRAY_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_REQUIRED = ("layer_sizes", "activation", "output_activation", "dtype")


# ------------------------------------------------------------------ write
def write(net, path, metadata=None):
    """Write the checked network ``net`` (a Network whose ``_sync`` has run:
    finite weights in its buffer) and ``metadata`` (see ``model_io.save``) to
    ``path``, atomically. Bad metadata raises TypeError/ValueError before
    anything is written."""
    json_metadata, array_metadata = _split_metadata(metadata)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "bpcore_version": __version__,
        "layer_sizes": list(net.layer_sizes),
        "activation": net.activation,
        "output_activation": net.output_activation,
        "dtype": net.dtype.name,
        "metadata": json_metadata,
        "metadata_arrays": sorted(array_metadata),
    }
    text = json.dumps(header, indent=1, allow_nan=False)
    arrays = {"header": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{l}"] = W
        arrays[f"biases_{l}"] = b
    for name, value in array_metadata.items():
        arrays[f"metadata_{name}"] = value
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _split_metadata(metadata):
    """``metadata`` checked and split into a JSON-ready dict and a dict of float arrays."""
    if metadata is None:
        return {}, {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}")
    json_part, arrays = {}, {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings; got {key!r}")
        if isinstance(value, np.ndarray):
            if not _ARRAY_NAME.fullmatch(key):
                raise ValueError(
                    f"metadata array names may use letters, digits and '_' (at most 64); got {key!r}"
                )
            if value.dtype.kind != "f" or not np.isfinite(value).all():
                raise ValueError(
                    f"metadata[{key!r}] must be an array of finite floats; got dtype {value.dtype}"
                )
            arrays[key] = value
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"metadata[{key!r}] must be a JSON value (no NaN or infinity) or a float "
                f"array; {e}"
            ) from None
        json_part[key] = value
    return json_part, arrays


# ------------------------------------------------------------------ read
@dataclasses.dataclass
class StoredModel:
    """What a model file holds, checked against its header."""

    header: dict
    weights: list
    biases: list
    metadata: dict


def read(path):
    """The :class:`StoredModel` at ``path``. Raises ModelFormatError naming the
    problem (see ``model_io.load``), OSError when it cannot be opened."""
    where = os.fspath(path)
    with open(path, "rb") as f:
        start = f.read(8)
        f.seek(0)
        if not start.startswith(_ZIP_MAGIC):
            raise ModelFormatError(f"{where}: not a bpcore model: {_describe_start(start)}")
        members = _read_members(f, where)
    header = _parse_header(members, where)
    weights, biases = _take_parameters(header, members, where)
    metadata = _read_metadata(header, members, where)
    if members:
        raise ModelFormatError(
            f"{where}: unexpected entries {sorted(members)} that the header does not describe "
            "(was the file edited?)"
        )
    return StoredModel(header, weights, biases, metadata)


def _describe_start(start):
    if not start:
        return "the file is empty"
    if start[:1] == b"\x80":
        return "it looks like a Python pickle, which bpcore never loads"
    if start.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not an .npz model archive"
    return "it is not an .npz (zip) archive"


def _read_members(f, where):
    """Every array in the archive, read with ``allow_pickle=False``."""
    try:
        with np.load(f, allow_pickle=False) as npz:
            members = {name: npz[name] for name in npz.files}
    except Exception as e:
        # The archive is untrusted input: zipfile, zlib and numpy's .npy reader
        # raise many exception types on damaged data (BadZipFile, EOFError,
        # zlib.error, ValueError for pickled object arrays, ...). All of them
        # mean the same to the caller: this is not a readable model file.
        raise ModelFormatError(
            f"{where}: the archive cannot be read (truncated or corrupted?): "
            f"{type(e).__name__}: {e}"
        ) from e
    for name, value in members.items():
        if not isinstance(value, np.ndarray):  # numpy hands back other zip entries as bytes
            raise ModelFormatError(f"{where}: the entry {name!r} is not a .npy array")
    return members


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed in a model header")


def _parse_header(members, where):
    raw = members.pop("header", None)
    if raw is None:
        raise ModelFormatError(f"{where}: not a bpcore model: the archive has no 'header' entry")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFormatError(
            f"{where}: the 'header' entry must be UTF-8 JSON bytes (a 1-D uint8 array); "
            f"got dtype {raw.dtype}, shape {raw.shape}"
        )
    try:
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelFormatError(f"{where}: the header is not valid JSON: {e}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ModelFormatError(
            f"{where}: not a bpcore model: the header's format is {found!r}, "
            f"expected {FORMAT_NAME!r}"
        )
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFormatError(
            f"{where}: the header's format_version must be an integer >= 1; got {version!r}"
        )
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{where}: written by a newer bpcore (model format version {version}, "
            f"bpcore_version {header.get('bpcore_version')!r}); this bpcore {__version__} reads "
            f"format version {FORMAT_VERSION}: upgrade bpcore to load it"
        )
    for key in _REQUIRED:
        if key not in header:
            raise ModelFormatError(f"{where}: the header has no {key!r}")
    _check_header_values(header, where)
    return header


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_header_values(header, where):
    sizes = header["layer_sizes"]
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(n) and n >= 1 for n in sizes)):
        raise ModelFormatError(
            f"{where}: the header's layer_sizes must be a list of at least two positive "
            f"integers; got {sizes!r}"
        )
    for key, allowed in (
        ("activation", _names.HIDDEN_ACTIVATIONS),
        ("output_activation", _names.OUTPUT_ACTIVATIONS),
        ("dtype", ("float64", "float32")),
    ):
        if header[key] not in allowed:
            raise ModelFormatError(
                f"{where}: unknown {key} {header[key]!r} in the header (this bpcore knows "
                f"{', '.join(allowed)})"
            )
    if not isinstance(header.get("metadata", {}), dict):
        raise ModelFormatError(f"{where}: the header's metadata must be a JSON object")
    names = header.get("metadata_arrays", [])
    if not (isinstance(names, list) and all(isinstance(n, str) and _ARRAY_NAME.fullmatch(n) for n in names)):
        raise ModelFormatError(
            f"{where}: the header's metadata_arrays must be a list of array names; got {names!r}"
        )


def _take_array(members, name, shape, dtype, where):
    """Remove entry ``name`` from ``members`` and check it is a finite array of
    ``shape`` (None: any) and ``dtype`` (None: any float dtype)."""
    if name not in members:
        raise ModelFormatError(f"{where}: the entry {name!r} is missing")
    a = members.pop(name)
    wrong_dtype = a.dtype.kind != "f" if dtype is None else a.dtype != dtype
    if wrong_dtype:
        expected = "a float dtype" if dtype is None else f"{dtype} as the header says"
        raise ModelFormatError(f"{where}: {name} has dtype {a.dtype}; expected {expected}")
    if shape is not None and a.shape != shape:
        raise ModelFormatError(
            f"{where}: {name} has shape {a.shape}; the header's layer_sizes say {shape}"
        )
    if not np.isfinite(a).all():
        raise ModelFormatError(f"{where}: {name} contains NaN or infinity")
    return a


def _take_parameters(header, members, where):
    sizes, dtype = header["layer_sizes"], np.dtype(header["dtype"])
    weights, biases = [], []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights.append(_take_array(members, f"weights_{l}", (n_out, n_in), dtype, where))
        biases.append(_take_array(members, f"biases_{l}", (n_out,), dtype, where))
    return weights, biases


def _read_metadata(header, members, where):
    metadata = dict(header.get("metadata", {}))
    for name in header.get("metadata_arrays", []):
        if name in metadata:
            raise ModelFormatError(f"{where}: metadata {name!r} is stored both as JSON and as an array")
        metadata[name] = _take_array(members, f"metadata_{name}", None, None, where)
    return metadata

