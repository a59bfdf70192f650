"""What `tk pixels` does, built on taskkit's public pieces: its data loading, its shared
training flow (`fit_and_test`), its evaluation and its answers."""

import torch
from torch import nn

from taskkit.data import load_image_data, load_image_for_prediction
from taskkit.errors import BadInputError
from taskkit.registries import LOSSES
from taskkit.report.answers import print_top_labels
from taskkit.report.metrics import classification_report
from taskkit.storage.checkpoints import load_run_weights
from taskkit.train.engine import evaluate
from taskkit.train.flow import evaluation_split, fit_and_test, report_and_print
from taskkit.train.training import TrainOptions, resolve_device, step_options


def build_model(spec):
    layers, width = [nn.Flatten()], spec["in_channels"] * spec["img_size"] ** 2
    for _ in range(spec["depth"]):
        layers += [nn.Linear(width, spec["hidden"]), nn.ReLU()]
        width = spec["hidden"]
    return nn.Sequential(*layers, nn.Linear(width, len(spec["classes"])))


def load_data(options, spec=None):
    fixed = {} if spec is None else {"img_size": spec["img_size"], "in_channels": spec["in_channels"],
                                     "classes": spec["classes"], "mean": spec["mean"], "std": spec["std"]}
    return load_image_data(options["data"], val_split=options["val_split"], test_split=options["test_split"],
                           seed=options["seed"], **fixed)


def train(options, resume):
    if options["hidden"] < 1 or options["depth"] < 0:
        raise BadInputError("--hidden must be positive and --depth not negative")
    train_options = TrainOptions.from_options(options)
    data = load_data(options)
    spec = {"in_channels": data.in_channels, "img_size": data.img_size, "classes": data.classes,
            "mean": data.mean, "std": data.std, "hidden": options["hidden"], "depth": options["depth"]}
    torch.manual_seed(options["seed"])
    return fit_and_test("pixels", options, resume, build_model(spec), spec, data, train_options,
                        loss_fn=LOSSES.build("cross-entropy"))


def load_model(run_dir, record):
    return load_run_weights(build_model(record["model"]), run_dir)


def evaluate_run(run_dir, record, data, split, as_json):
    from torch.utils.data import ConcatDataset, DataLoader

    options, split = evaluation_split(run_dir, data, split)
    fractions = {"val_split": 0.0, "test_split": 0.0} if split == "all" else {}
    loaded = load_data({**options, **fractions, "data": data or options["data"]}, record["model"])
    dataset = ConcatDataset([loaded.train, loaded.val, loaded.test]) if split == "all" else getattr(loaded, split)
    result = evaluate(load_model(run_dir, record), DataLoader(dataset, batch_size=256),
                      LOSSES.build("cross-entropy"), step_options(TrainOptions(), resolve_device("cpu")))
    report_and_print(run_dir, classification_report(result.logits, result.targets, record["model"]["classes"]),
                     as_json)


def predict_files(run_dir, record, files, top_k, as_json):
    spec = record["model"]
    images = torch.stack([load_image_for_prediction(f, in_channels=spec["in_channels"], img_size=spec["img_size"],
                                                    mean=spec["mean"], std=spec["std"]) for f in files])
    with torch.no_grad():
        probabilities = load_model(run_dir, record).eval()(images).softmax(-1)
    results = []
    for path, row in zip(files, probabilities):
        values, indices = row.topk(min(top_k, len(spec["classes"])))
        results.append({"file": path, "predictions": [{"label": spec["classes"][i], "probability": round(float(v), 4)}
                                                      for v, i in zip(values, indices)]})
    print_top_labels(results, as_json)
