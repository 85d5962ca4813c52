"""The embedded real dataset."""

import gzip
from importlib import resources

import numpy as np

__all__ = ["load_digits"]

N_EXAMPLES, N_PIXELS = 1797, 64


def load_digits():
    """The optical recognition of handwritten digits data, shipped with bpcore.

    1,797 handwritten digits from 13 writers, each an 8×8 image whose pixels
    count the "on" cells of a 4×4 block of a 32×32 bitmap (integers 0–16).

    Source: E. Alpaydin and C. Kaynak, *Optical Recognition of Handwritten
    Digits*, UCI Machine Learning Repository (1998), DOI 10.24432/C50P49 — the
    repository's test set ``optdigits.tes``, as also shipped by scikit-learn.
    Licence: CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); see
    ``bpcore/datasets/data/README.md``. Read from the package; never downloaded.

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
        Pixels row by row (``X[n].reshape(8, 8)`` is the image), scaled to
        [0, 1] by dividing by 16.
    y : ndarray of int64, shape (1797,)
        The digit, 0–9. ``bpcore.datasets.one_hot(y)`` gives (1797, 10) targets.
    """
    source = resources.files(__package__) / "data" / "digits.csv.gz"
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as text:
        data = np.loadtxt(text, delimiter=",", dtype=np.float64)
    # The file is part of the package: a wrong shape means a broken installation.
    if data.shape != (N_EXAMPLES, N_PIXELS + 1):
        raise RuntimeError(f"the embedded digits data has shape {data.shape}; reinstall bpcore")
    return data[:, :N_PIXELS] / 16.0, data[:, N_PIXELS].astype(np.int64)
