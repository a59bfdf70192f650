"""`tk classify`: train an image classifier from scratch, evaluate it, predict with it.

The module is imported to build the CLI, so it imports torch and the data layer only
inside functions. Its options are declared in `taskkit.data.options` (the image groups) and
`taskkit.options` (what every task takes); core builds the command from them.
"""

from __future__ import annotations

from pathlib import Path

from taskkit import hookimpl
from taskkit.data.options import IMAGE_DATA, IMAGE_MODEL, IMAGE_TRAINING
from taskkit.task import Finished, RunModuleTask, TaskCall


class Classify(RunModuleTask):
    """Train an image classifier from scratch and report test metrics."""

    run_module = "taskkit.tasks.classify.run"
    inputs = "images"
    outputs = "labels"
    test_time_augmentation = True
    options = (IMAGE_DATA, IMAGE_MODEL, IMAGE_TRAINING)
    defaults = {"lr": 3e-3, "epochs": 15}

    @classmethod
    def run(cls, call: TaskCall) -> Finished:
        from taskkit.tasks.classify.run import train

        return Finished(*train("classify", call.options, resume=call.resume))

    @staticmethod
    def predict(run_dir: Path, record: dict, files: list[str], top_k: int | None, as_json: bool,
                tta: str | None = None) -> None:
        from taskkit.tasks.classify.run import predict_files

        predict_files(run_dir, record, files, 3 if top_k is None else top_k, as_json, tta=tta)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("classify")(Classify)
