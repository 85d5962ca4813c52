"""bpcore: classic backpropagation (per-example SGD) for multilayer networks.

    import bpcore
    net = bpcore.Network((2, 3, 1), seed=0)
    history = bpcore.train(net, X, T, learning_rate=0.5, epochs=1000, seed=0)

``bpcore.train`` runs on compiled kernels; ``bpcore.reference.train`` is the
pure-Python executable specification with the same signature and results.
"""

from . import datasets, reference
from ._dispatch import variant as kernel_variant
from ._training import History
from ._version import __version__
from .compiled import total_error, train
from .errors import DivergenceError, ModelFormatError
from .model_io import load, save
from .network import Network
from .parallel import train_many
from .trace import StepTrace, trace_step

__all__ = [
    "Network",
    "train",
    "train_many",
    "total_error",
    "History",
    "reference",
    "datasets",
    "trace_step",
    "StepTrace",
    "DivergenceError",
    "ModelFormatError",
    "save",
    "load",
    "kernel_variant",
    "__version__",
]
