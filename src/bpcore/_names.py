"""Names of activations and losses, and the small integer codes the kernels
use for them. The kernel modules export the same tables (``ACTIVATION_CODE``,
``LOSS_CODE``, ``PATH_CODE``, ``OPTIMIZER_CODE``); tests/test_kernel_interface.py checks that they
are equal."""

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
OUTPUT_ACTIVATIONS = ("sigmoid", "identity", "softmax")
LOSSES = ("squared_error", "cross_entropy")
INITS = ("uniform", "xavier", "he", "nguyen_widrow")
# Hidden activations init="nguyen_widrow" is made for (sigmoid-shaped units).
NGUYEN_WIDROW_ACTIVATIONS = ("sigmoid", "tanh")
OPTIMIZERS = ("sgd", "adam", "rmsprop")

ACTIVATION_CODE = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4}
LOSS_CODE = {"squared_error": 0, "cross_entropy": 1}
# The kernels' two training paths (bpcore.compiled.kernel_options chooses one).
PATH_CODE = {"example": 0, "batch": 1}
OPTIMIZER_CODE = {"sgd": 0, "adam": 1, "rmsprop": 2}

# loss -> output activations it is defined for, and why the others are refused.
LOSS_OUTPUTS = {
    "squared_error": ("sigmoid", "identity"),
    "cross_entropy": ("sigmoid", "softmax"),
}
LOSS_OUTPUT_HINT = {
    ("squared_error", "softmax"): "a softmax output is trained with loss='cross_entropy'",
    ("cross_entropy", "identity"): (
        "cross-entropy needs outputs that are probabilities; use output_activation='sigmoid' "
        "or 'softmax', or loss='squared_error' for regression"
    ),
}


def check_loss_output(loss, output_activation):
    """Raise ValueError for a loss/output pair that makes no sense."""
    if output_activation not in LOSS_OUTPUTS[loss]:
        hint = LOSS_OUTPUT_HINT[(loss, output_activation)]
        raise ValueError(
            f"loss={loss!r} does not go with output_activation={output_activation!r}: {hint}"
        )
