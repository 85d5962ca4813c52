"""Exceptions that bpcore raises besides ValueError and TypeError."""

__all__ = ["DivergenceError", "ModelFormatError"]


class DivergenceError(ArithmeticError):
    """Training error became NaN or infinite.

    The network holds the weights of the last epoch whose training error was
    finite. Attributes: ``epoch`` (1-based epoch that diverged) and ``history``
    (the :class:`~bpcore.History` up to the last finite epoch).
    """

    def __init__(self, message, *, epoch=None, history=None):
        super().__init__(message)
        self.epoch = epoch
        self.history = history


class ModelFormatError(ValueError):
    """A model file is not a valid bpcore model (truncated, corrupted, wrong
    version, hand-edited or not a bpcore file at all)."""
