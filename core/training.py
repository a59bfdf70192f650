"""Where tasks written against the first plugin guide find `train_and_test` and its options.

The training flow lives in `taskkit.train`; this module keeps the names a third-party task may
already import (`taskkit.training.train_and_test`, `TrainOptions`, `Scoring`) pointing at it.
"""

from taskkit.train.training import Scoring, TrainOptions, resolve_device, step_options, train_and_test

__all__ = ["Scoring", "TrainOptions", "resolve_device", "step_options", "train_and_test"]
