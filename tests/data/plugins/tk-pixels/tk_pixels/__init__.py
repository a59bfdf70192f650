"""`tk pixels`: a task written outside taskkit, declared as data like the built-in ones.

It declares its own options (`--hidden`, `--depth`) and takes the shared ones from core; it says
its model reads images and answers labels, so export and ONNX predict follow it. The work is in
`tk_pixels.work`, imported only when a run starts, so building the CLI imports no torch.
"""

from taskkit import hookimpl
from taskkit.options import DATA, Option
from taskkit.task import Finished, Task, TaskCall


class Pixels(Task):
    """Train a multilayer perceptron on the raw pixels of images and report test metrics."""

    inputs = "images"
    outputs = "labels"
    options = (
        Option("data", "digits", "Folder of class folders, or a named dataset.", DATA),
        Option("hidden", 32, "Units in each hidden layer."),
        Option("depth", 1, "Number of hidden layers."),
    )
    defaults = {"epochs": 4, "lr": 1e-2}

    @classmethod
    def run(cls, call: TaskCall) -> Finished:
        from tk_pixels.work import train

        return Finished(*train(call.options, call.resume))

    @staticmethod
    def evaluate(run_dir, record, data, split, as_json):
        from tk_pixels.work import evaluate_run

        evaluate_run(run_dir, record, data, split, as_json)

    @staticmethod
    def load_model(run_dir, record):
        from tk_pixels.work import load_model

        return load_model(run_dir, record)

    @staticmethod
    def predict(run_dir, record, files, top_k, as_json):
        from tk_pixels.work import predict_files

        predict_files(run_dir, record, files, top_k or 3, as_json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("pixels")(Pixels)
