"""Data for examples, tests and the command line: one small real dataset that
ships inside the package, and generators for toy problems. Nothing here ever
downloads anything.

- :func:`load_digits`: the UCI optical recognition of handwritten digits data
  (1,797 8×8 images, CC BY 4.0; see ``data/README.md``).
- :func:`make_xor`, :func:`make_blobs`: XOR and Gaussian blobs.
- :func:`one_hot`, :func:`train_test_split`: turning labels into targets and
  holding data out.
"""

from ._digits import load_digits
from ._toy import make_blobs, make_xor
from ._utils import one_hot, train_test_split

__all__ = ["load_digits", "make_xor", "make_blobs", "one_hot", "train_test_split"]
