"""Built-in losses: cross-entropy, binary cross-entropy, MSE, label smoothing, focal, Dice and CE+Dice.

The implementations live in `functions.py` and import torch; this plugin module imports them
only when the losses registry is first read, so listing tasks stays fast.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_losses(losses):
    from taskkit.plugins.losses import functions as f

    losses.register("cross-entropy", aliases=("ce",))(f.CrossEntropy)
    losses.register("bce", aliases=("binary-cross-entropy",))(f.BinaryCrossEntropy)
    losses.register("mse")(f.MeanSquaredError)
    losses.register("label-smoothing", aliases=("ls-ce",))(f.LabelSmoothingCrossEntropy)
    losses.register("focal")(f.FocalLoss)
    losses.register("binary-focal")(f.BinaryFocalLoss)
    losses.register("dice")(f.DiceLoss)
    losses.register("ce+dice", aliases=("cross-entropy+dice",))(f.CrossEntropyDice)
